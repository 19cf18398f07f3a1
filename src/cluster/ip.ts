// IP address helpers: wire bytes, reverse (PTR) names, and the dashed form used in DNS labels.

import { isIPv4, isIPv6 } from "node:net";

export function ipFamily(ip: string): 4 | 6 | 0 {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return 0;
}

export function ipv4Bytes(ip: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  const parts = ip.split(".");
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/** 16 bytes of a valid IPv6 literal (with "::" and an optional trailing dotted quad). */
export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let text = ip;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) > 0) {
    const quad = ipv4Bytes(text.slice(lastColon + 1));
    tail = [(quad[0]! << 8) | quad[1]!, (quad[2]! << 8) | quad[3]!];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(":") : [];
  const groups = head.map((g) => Number.parseInt(g, 16));
  const after = rest.map((g) => Number.parseInt(g, 16));
  const fill = 8 - groups.length - after.length;
  for (let i = 0; i < fill; i++) groups.push(0);
  groups.push(...after);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]! & 0xffff, i * 2);
  if (tail.length === 2) {
    out.writeUInt16BE(tail[0]!, 12);
    out.writeUInt16BE(tail[1]!, 14);
  }
  return out;
}

/** "10.0.0.1" -> "1.0.0.10.in-addr.arpa."; IPv6 -> 32 nibbles + "ip6.arpa.". "" if not an IP. */
export function reverseName(ip: string): string {
  const family = ipFamily(ip);
  if (family === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa.`;
  if (family === 6) {
    const hex = ipv6Bytes(ip).toString("hex");
    let out = "";
    for (let i = hex.length - 1; i >= 0; i--) out += `${hex[i]}.`;
    return `${out}ip6.arpa.`;
  }
  return "";
}

/** Canonical text form (IPv6 compressed, lowercase), so equal addresses compare equal. */
export function canonicalIp(ip: string): string {
  const family = ipFamily(ip);
  if (family === 4) return ip;
  if (family !== 6) return "";
  const bytes = ipv6Bytes(ip);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // RFC 5952: the longest run (>1) of zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  const left = groups.slice(0, bestStart).join(":");
  const right = groups.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** The endpoint-name form of an IP: dots or colons replaced by dashes (CoreDNS endpointHostname). */
export function dashedIp(ip: string): string {
  // split/join gives one flat string; replaceAll may give a tree of pieces, and the index keeps these
  return ip.split(ip.includes(".") ? "." : ":").join("-");
}

/** A pod label back to an IP (CoreDNS findPods): "10-0-0-1" -> "10.0.0.1", "fd00--1" -> "fd00::1". */
export function undashIp(label: string): string {
  let count = 0;
  for (const c of label) if (c === "-") count++;
  const ip = count === 3 && !label.includes("--") ? label.replaceAll("-", ".") : label.replaceAll("-", ":");
  return ipFamily(ip) === 0 ? "" : canonicalIp(ip);
}
