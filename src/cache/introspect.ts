// Reading the cache from outside the query path (the `explain` endpoint, `cache show/flush`): which
// entries a name has, and what a query would get now. Nothing here touches recency, hit counts or
// metrics.

import {
  buildQuery,
  canonicalName,
  HEADER_LENGTH,
  nameToWire,
  OPT_RECORD_LENGTH,
  PARSE_OK,
  parseQuery,
  QueryView,
  wireToName,
  writeOpt,
} from "../dns/index.ts";
import type { StoreKind } from "./classify.ts";

/** One cached entry as operators see it. */
export interface CacheEntryInfo {
  /** Owner name of the question, lowercase with trailing dot. */
  name: string;
  type: number;
  rcode: number;
  kind: StoreKind;
  /** Whole seconds of TTL left (0 once expired). */
  ttlLeft: number;
  /** Past its TTL, kept only because serve_stale allows it. */
  stale: boolean;
  /** Times it answered a client. */
  hits: number;
  dnssecOk: boolean;
}

/** What introspection needs of a stored entry. */
export interface IntrospectedEntry {
  wire: Buffer;
  questionEnd: number;
  kind: StoreKind;
  rcode: number;
  dnssecOk: boolean;
  storedAt: number;
  expiresAt: number;
  staleUntil: number;
  lifetime: number;
  served: number;
}

export { canonicalName };

/** Whether `owner` (canonical) is `name` (canonical) or lies below it. */
export function isUnder(owner: string, name: string): boolean {
  return name === "." || owner === name || owner.endsWith(`.${name}`);
}

export function ownerOf(entry: IntrospectedEntry): string {
  return wireToName(entry.wire, HEADER_LENGTH, entry.questionEnd - 4);
}

export function describe(entry: IntrospectedEntry, now: number, keepTtl: boolean): CacheEntryInfo {
  const elapsed = Math.floor((now - entry.storedAt) / 1000);
  return {
    name: ownerOf(entry),
    type: entry.wire.readUInt16BE(entry.questionEnd - 4),
    rcode: entry.rcode,
    kind: entry.kind,
    ttlLeft: keepTtl ? entry.lifetime : Math.max(0, entry.lifetime - elapsed),
    stale: now >= entry.expiresAt,
    hits: entry.served,
    dnssecOk: entry.dnssecOk,
  };
}

/** A parsed query for NAME/TYPE as a plain client sends it (RD, no CD; an OPT with DO when asked). */
export function probeQuery(name: string, qtype: number, dnssecOk: boolean): QueryView | null {
  let wire: Buffer;
  try {
    wire = nameToWire(canonicalName(name));
  } catch {
    return null;
  }
  let buf = buildQuery(0, wire, qtype);
  if (dnssecOk) {
    const withOpt = Buffer.alloc(buf.length + OPT_RECORD_LENGTH);
    buf.copy(withOpt);
    withOpt.writeUInt16BE(1, 10);
    writeOpt(withOpt, buf.length, true);
    buf = withOpt;
  }
  const view = new QueryView();
  return parseQuery(buf, view) === PARSE_OK ? view : null;
}
