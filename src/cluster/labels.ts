// Reading a query name's labels in place: case-insensitive comparisons against the wire bytes, one
// label as a lowercase string, the presentation form, and the address a reverse name spells.

import { HEADER_LENGTH, type QueryView } from "../dns/index.ts";
import { canonicalIp, ipFamily } from "./ip.ts";

/** Whether the label at `at` is `text` (lowercase ASCII), case-insensitively. */
export function labelIs(buf: Buffer, at: number, text: string): boolean {
  if (buf[at] !== text.length) return false;
  for (let k = 0; k < text.length; k++) if ((buf[at + 1 + k]! | 0x20) !== text.charCodeAt(k)) return false;
  return true;
}

export function label(buf: Buffer, at: number): string {
  return buf.toString("latin1", at + 1, at + 1 + buf[at]!).toLowerCase();
}

/** The address a reverse name spells (4 decimal or 32 nibble labels), canonical; "" otherwise. */
export function reverseIp(buf: Buffer, end: number): string {
  const labels: string[] = [];
  for (let i = HEADER_LENGTH; i < end && buf[i]! !== 0; i += buf[i]! + 1) labels.push(label(buf, i));
  const suffix = labels.slice(-2).join(".");
  if (suffix === "in-addr.arpa" && labels.length === 6) {
    const ip = labels.slice(0, 4).reverse().join(".");
    return ipFamily(ip) === 4 ? ip : "";
  }
  if (labels.length === 34 && labels[33] === "arpa" && labels[32] === "ip6") {
    const nibbles = labels.slice(0, 32).reverse();
    if (!nibbles.every((x) => /^[0-9a-f]$/.test(x))) return "";
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(nibbles.slice(g * 4, g * 4 + 4).join(""));
    return canonicalIp(groups.join(":"));
  }
  return "";
}

/** Whether the wire label at `at` is `_<text>`, ASCII case-insensitively. */
export function underscoreLabelIs(buf: Buffer, at: number, text: string): boolean {
  const n = text.length;
  if (buf[at] !== n + 1 || buf[at + 1] !== 0x5f) return false;
  for (let k = 0; k < n; k++)
    if (lowerAscii(buf[at + 2 + k]!) !== lowerAscii(text.charCodeAt(k))) return false;
  return true;
}

function lowerAscii(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

export function presentation(view: QueryView): string {
  let name = "";
  for (let i = HEADER_LENGTH; i < view.qnameEnd && view.buf[i]! !== 0; i += view.buf[i]! + 1) {
    name += `${label(view.buf, i)}.`;
  }
  return name === "" ? "." : name;
}
