// Walks a reply's records once (on cache insert, never on a hit) to find every TTL field, the
// lowest TTL, the SOA of a negative answer, and the upstream's OPT record to strip.

import { HEADER_LENGTH, RCODE_MASK, TYPE } from "./constants.ts";
import { skipName } from "./names.ts";

export interface ReplyScan {
  rcode: number;
  /** Offset just past the question. */
  questionEnd: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** Byte offsets of each record's TTL field, OPT excluded. */
  ttlOffsets: number[];
  /** The lowest TTL across all records but OPT; -1 when there are none. */
  minTtl: number;
  /** min(SOA TTL, SOA MINIMUM) of the first SOA in authority; -1 when there is none. */
  soaNegativeTtl: number;
  /** Whether authority holds NS records (a referral). */
  hasAuthorityNs: boolean;
  /** Offset and length of the OPT record; -1 when absent. */
  optOffset: number;
  optLength: number;
  /** Extended RCODE bits from OPT (upper 8 bits). */
  extendedRcode: number;
}

/** Scan a reply; returns null when it is malformed. */
export function scanReply(buf: Buffer): ReplyScan | null {
  if (buf.length < HEADER_LENGTH) return null;
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  let offset = HEADER_LENGTH;
  for (let q = 0; q < qdcount; q++) {
    const end = skipName(buf, offset);
    if (end < 0 || end + 4 > buf.length) return null;
    offset = end + 4;
  }
  const scan: ReplyScan = {
    rcode: buf[3]! & RCODE_MASK,
    questionEnd: offset,
    ancount,
    nscount,
    arcount,
    ttlOffsets: [],
    minTtl: -1,
    soaNegativeTtl: -1,
    hasAuthorityNs: false,
    optOffset: -1,
    optLength: 0,
    extendedRcode: 0,
  };
  const total = ancount + nscount + arcount;
  for (let r = 0; r < total; r++) {
    const start = offset;
    const nameEnd = skipName(buf, offset);
    if (nameEnd < 0 || nameEnd + 10 > buf.length) return null;
    const type = buf.readUInt16BE(nameEnd);
    const ttl = buf.readUInt32BE(nameEnd + 4);
    const rdlength = buf.readUInt16BE(nameEnd + 8);
    const rdata = nameEnd + 10;
    offset = rdata + rdlength;
    if (offset > buf.length) return null;
    if (type === TYPE.OPT) {
      if (scan.optOffset >= 0) return null;
      scan.optOffset = start;
      scan.optLength = offset - start;
      scan.extendedRcode = buf[nameEnd + 4]!;
      continue;
    }
    scan.ttlOffsets.push(nameEnd + 4);
    const effectiveTtl = ttl > 0x7fffffff ? 0 : ttl; // RFC 2181: the high bit means zero
    if (scan.minTtl < 0 || effectiveTtl < scan.minTtl) scan.minTtl = effectiveTtl;
    const inAuthority = r >= ancount && r < ancount + nscount;
    if (inAuthority && type === TYPE.NS) scan.hasAuthorityNs = true;
    if (inAuthority && type === TYPE.SOA && scan.soaNegativeTtl < 0 && rdlength >= 22) {
      const minimum = buf.readUInt32BE(offset - 4);
      scan.soaNegativeTtl = Math.min(effectiveTtl, minimum > 0x7fffffff ? 0 : minimum);
    }
  }
  return scan;
}
