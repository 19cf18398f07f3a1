// A parsed hosts file: name -> addresses per family (exact and `*.` wildcard owners) and address ->
// names for PTR, built as CoreDNS's Hostsfile.parse builds them.

import { isIP } from "node:net";

export class HostsMap {
  readonly name4 = new Map<string, string[]>();
  readonly name6 = new Map<string, string[]>();
  readonly wild4 = new Map<string, string[]>();
  readonly wild6 = new Map<string, string[]>();
  /** Canonical address text -> names (forward order). */
  readonly addr = new Map<string, string[]>();

  get size(): number {
    let n = 0;
    for (const m of [this.name4, this.name6, this.wild4, this.wild6, this.addr])
      for (const v of m.values()) n += v.length;
    return n;
  }

  /** Parse hosts-file text; names outside `inZones` are skipped; `reverse` false skips PTR data. */
  static parse(text: string, inZones: (name: string) => boolean, reverse: boolean): HostsMap {
    const map = new HostsMap();
    for (const raw of text.split("\n")) {
      const hash = raw.indexOf("#");
      const fields = (hash === -1 ? raw : raw.slice(0, hash)).split(/\s+/).filter((f) => f !== "");
      if (fields.length < 2) continue;
      const addr = canonicalAddress(fields[0]!);
      if (addr === null) continue;
      const v4 = isIP(addr) === 4;
      for (const field of fields.slice(1)) {
        const name = field.toLowerCase().endsWith(".") ? field.toLowerCase() : `${field.toLowerCase()}.`;
        if (!inZones(name)) continue;
        if (name.startsWith("*.")) {
          push(v4 ? map.wild4 : map.wild6, name, addr);
          continue;
        }
        push(v4 ? map.name4 : map.name6, name, addr);
        if (reverse) push(map.addr, addr, name);
      }
    }
    return map;
  }

  /** Addresses of `name` (lowercase, trailing dot) in one family: exact owner, else `*.` wildcard. */
  lookup(name: string, v4: boolean): readonly string[] {
    const exact = (v4 ? this.name4 : this.name6).get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf(".");
    if (dot === -1 || dot === name.length - 1) return NONE;
    return (v4 ? this.wild4 : this.wild6).get(`*${name.slice(dot)}`) ?? NONE;
  }
}

const NONE: readonly string[] = [];

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** As Go's net.ParseIP(...).String(): a %zone dropped, IPv4-mapped IPv6 shown as IPv4, IPv6 compressed. */
export function canonicalAddress(text: string): string | null {
  const zone = text.indexOf("%");
  const bare = zone === -1 ? text : text.slice(0, zone);
  const family = isIP(bare);
  if (family === 4) return bare.split(".").map(Number).join(".");
  if (family !== 6) return null;
  const url = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = url.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
  if (mapped) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return url;
}
