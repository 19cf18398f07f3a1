// RFC 6052 address translation: an IPv4 address embedded in an IPv6 prefix (bits 64..71 stay zero),
// and back from a reverse (ip6.arpa) name.

import { isIPv4 } from "node:net";

/** The 16 bytes of an IPv6 literal (no zone). */
export function ipv6Bytes(text: string): number[] {
  let head = text;
  let tail = "";
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const groups = (s: string): number[] => {
    if (s === "") return [];
    const out: number[] = [];
    for (const part of s.split(":")) {
      if (isIPv4(part)) {
        const v4 = part.split(".").map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else out.push(Number.parseInt(part, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The byte positions the IPv4 address takes inside a prefix of `length` bits (skipping byte 8). */
function v4Positions(length: number): number[] {
  const out: number[] = [];
  for (let i = length / 8; out.length < 4; i++) if (i !== 8) out.push(i);
  return out;
}

/** The IPv6 address (text) that embeds `ipv4` in `prefix`. */
export function synthesize(prefix: readonly number[], length: number, ipv4: string): string {
  const bytes = prefix.slice(0, 16);
  const v4 = ipv4.split(".").map(Number);
  v4Positions(length).forEach((pos, j) => {
    bytes[pos] = v4[j]!;
  });
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/**
 * For a full ip6.arpa name (32 nibbles, lowercase, trailing dot) inside the prefix: the in-addr.arpa
 * name of the embedded IPv4 address; null for any other name.
 */
export function reverseTarget(prefix: readonly number[], length: number, name: string): string | null {
  if (!name.endsWith(".ip6.arpa.")) return null;
  const nibbles = name.slice(0, -".ip6.arpa.".length).split(".");
  if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return null;
  nibbles.reverse();
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 2) bytes.push(Number.parseInt(nibbles[i]! + nibbles[i + 1]!, 16));
  for (let i = 0; i < length / 8; i++) if (bytes[i] !== prefix[i]) return null;
  const v4 = v4Positions(length).map((p) => bytes[p]!);
  return `${v4.reverse().join(".")}.in-addr.arpa.`;
}
