// Value syntaxes shared by the directive builders: Go durations, integers, zone names (with CoreDNS's
// CIDR-to-reverse-zone expansion), IP literals and host:port listen addresses.

import { isIP } from "node:net";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DUR_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Go's time.ParseDuration, in milliseconds; null when `s` is not a duration. */
export function parseDuration(s: string): number | null {
  let rest = s;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest[0] === "-" ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return null;
  let total = 0;
  DUR_PART.lastIndex = 0;
  while (DUR_PART.lastIndex < rest.length) {
    const m = DUR_PART.exec(rest);
    if (m === null) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return sign * total;
}

/** Go's strconv.Atoi: optional sign, decimal digits; null otherwise. */
export function parseInt10(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

export function parsePort(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= 65535 ? n : null;
}

/** Strip an IPv6 %zone suffix. */
export function stripZone(ip: string): string {
  const p = ip.lastIndexOf("%");
  return p === -1 ? ip : ip.slice(0, p);
}

export function isIpLiteral(s: string): boolean {
  return isIP(stripZone(s)) !== 0;
}

/** Lowercase, trailing dot; null when not a usable domain name. */
export function normalizeName(name: string): string | null {
  if (name === "" || name === ".") return ".";
  let n = name.toLowerCase();
  if (!n.endsWith(".")) n += ".";
  if (n.length > 254) return null;
  const labels = n.slice(0, -1).split(".");
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) return null;
    if (/[\s"{}]/.test(l)) return null;
  }
  return n;
}

export function isReverseZone(zone: string): boolean {
  return (
    zone === "in-addr.arpa." ||
    zone.endsWith(".in-addr.arpa.") ||
    zone === "ip6.arpa." ||
    zone.endsWith(".ip6.arpa.")
  );
}

/**
 * A zone as CoreDNS's plugin.Host(...).Normalize() reads it: a name, or an IP/prefix that becomes the
 * reverse zones covering it (rounded out to octet or nibble boundaries). null when invalid.
 */
export function zonesOf(s: string): string[] | null {
  if (s.includes("/")) return reverseZones(s);
  const z = normalizeName(s);
  return z === null ? null : [z];
}

function reverseZones(cidr: string): string[] | null {
  const [ip, lenText] = cidr.split("/");
  if (ip === undefined || lenText === undefined || !/^\d+$/.test(lenText)) return null;
  const bits = isIP(ip) === 4 ? ipv4Bytes(ip) : isIP(ip) === 6 ? ipv6Nibbles(ip) : null;
  if (bits === null) return null;
  const v4 = isIP(ip) === 4;
  const digitBits = v4 ? 8 : 4;
  const total = bits.length * digitBits;
  const prefix = Number(lenText);
  if (prefix > total) return null;
  const digits = Math.ceil(prefix / digitBits);
  const spare = digits * digitBits - prefix; // host bits inside the last digit: enumerate them
  const suffix = v4 ? "in-addr.arpa." : "ip6.arpa.";
  if (digits === 0) return [suffix];
  const head = bits.slice(0, digits);
  const last = head[digits - 1]! & ~((1 << spare) - 1) & ((1 << digitBits) - 1);
  const out: string[] = [];
  for (let k = 0; k < 1 << spare; k++) {
    const d = head.slice(0, -1).concat(last + k);
    const labels = d.reverse().map((x) => (v4 ? String(x) : x.toString(16)));
    out.push(`${labels.join(".")}.${suffix}`);
  }
  return out;
}

function ipv4Bytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

/** Expand an IPv6 literal to its 32 nibbles. */
export function ipv6Nibbles(ip: string): number[] | null {
  let s = stripZone(ip);
  const v4 = s.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, -v4[0].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string): number[] => (h === "" ? [] : h.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(halves[0]!);
  const right = parse(halves[1] ?? "");
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const groups = left.concat(new Array<number>(fill).fill(0), right);
  if (groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff)) return null;
  return groups.flatMap((g) => [(g >> 12) & 15, (g >> 8) & 15, (g >> 4) & 15, g & 15]);
}

/**
 * A listen address `HOST:PORT` (Go net.SplitHostPort): `:PORT` means every IPv4 address (0.0.0.0),
 * `[v6]:PORT` keeps its brackets. HOST must be an IP literal or a DNS host name such as localhost.
 * Returns the normalised `host:port`, or a reason string prefixed with "!".
 */
export function parseListenAddress(s: string): string {
  let host: string;
  let portText: string;
  const br = s.match(/^\[([^\]]*)\]:(.*)$/);
  if (br) {
    host = br[1]!;
    portText = br[2]!;
    if (isIP(stripZone(host)) !== 6) return `!"${host}" in brackets is not an IPv6 address`;
    host = `[${host}]`;
  } else {
    const c = s.lastIndexOf(":");
    if (c === -1) return "!missing port";
    host = s.slice(0, c);
    portText = s.slice(c + 1);
    if (host.includes(":")) return "!an IPv6 host must be in brackets, e.g. [::1]:9153";
    if (host === "") host = "0.0.0.0";
    else if (
      isIP(host) === 0 &&
      !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(
        host,
      )
    ) {
      return `!"${host}" is not an IP address or host name`;
    }
  }
  const port = parsePort(portText);
  if (port === null) return `!port "${portText}" is not a number from 0 to 65535`;
  return `${host}:${port}`;
}
