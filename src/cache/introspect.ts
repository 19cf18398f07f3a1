// The packet cache as the rest of the daemon sees it: the core plus introspection by name (what is
// cached under a name, flush it, what a query would get), for operators' tools.

import {
  buildQuery,
  canonicalName,
  HEADER_LENGTH,
  nameInZone,
  nameToWire,
  OPT_RECORD_LENGTH,
  parseQuery,
  QueryView,
  wireToName,
  writeOpt,
} from "../dns/index.ts";
import { type Arena, FLAG_DO } from "./arena.ts";
import type { StoreKind } from "./classify.ts";
import { CacheCore, MISS } from "./store.ts";

export interface CacheEntryInfo {
  name: string;
  type: number;
  rcode: number;
  kind: StoreKind;
  /** Whole seconds of TTL left (what a hit would show now; 0 when stale). */
  ttlLeft: number;
  stale: boolean;
  /** Hits served from this entry since it was stored. */
  hits: number;
  dnssecOk: boolean;
}

export class PacketCache extends CacheCore {
  /** The servable entries for `name` (presentation form, any case) and every name below it, sorted. */
  entriesUnder(name: string): CacheEntryInfo[] {
    const out: CacheEntryInfo[] = [];
    this.eachUnder(name, (handle) => out.push(this.infoOf(handle)));
    return out.sort((a, b) => (a.name === b.name ? a.type - b.type : a.name < b.name ? -1 : 1));
  }

  /** Drop the entries for `name` and every name below it; returns how many. */
  flushUnder(name: string): number {
    const doomed: number[] = [];
    this.eachUnder(name, (handle) => doomed.push(handle));
    for (const handle of doomed) this.drop(handle);
    return doomed.length;
  }

  /** What a query for `name`/`qtype` would get now, without counting or touching anything. */
  lookupInfo(name: string, qtype: number, dnssecOk = false): CacheEntryInfo | null {
    let nameWire: Buffer;
    try {
      nameWire = nameToWire(canonicalName(name));
    } catch {
      return null; // not a name: nothing is cached under it
    }
    const query = buildQuery(0, nameWire, qtype);
    const view = new QueryView();
    parseQuery(dnssecOk ? withDoOpt(query) : query, view);
    const handle = this.peek(view);
    return handle === MISS ? null : this.infoOf(handle);
  }

  private eachUnder(name: string, visit: (handle: number) => void): void {
    const wire = nameToWire(canonicalName(name));
    const now = this.now();
    this.arenas.forEach((arena: Arena, store) => {
      for (let slot = 0; slot < arena.capacity; slot++) {
        if (!arena.isUsed(slot) || now >= arena.staleUntil[slot]!) continue;
        const start = arena.startOf(slot);
        const buf = arena.bytesOf(slot);
        if (nameInZone(buf, start + HEADER_LENGTH, start + arena.qnameEnd[slot]!, wire))
          visit(slot * 2 + store);
      }
    });
  }

  private infoOf(handle: number): CacheEntryInfo {
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    const start = arena.startOf(slot);
    const buf = arena.bytesOf(slot);
    const qnameEnd = arena.qnameEnd[slot]!;
    const now = this.now();
    const elapsed = Math.floor((now - arena.storedAt[slot]!) / 1000);
    const stale = now >= arena.expiresAt[slot]!;
    return {
      name: wireToName(buf, start + HEADER_LENGTH, start + qnameEnd),
      type: buf.readUInt16BE(start + qnameEnd),
      rcode: arena.rcode[slot]!,
      kind: this.kindOf(handle),
      ttlLeft: stale ? 0 : Math.max(0, arena.lifetime[slot]! - elapsed),
      stale,
      hits: arena.hits[slot]!,
      dnssecOk: (arena.flags[slot]! & FLAG_DO) !== 0,
    };
  }
}

/** The query with an OPT record asking for DNSSEC (DO=1). */
function withDoOpt(query: Buffer): Buffer {
  const out = Buffer.alloc(query.length + OPT_RECORD_LENGTH);
  query.copy(out);
  out.writeUInt16BE(1, 10);
  writeOpt(out, query.length, true);
  return out;
}
