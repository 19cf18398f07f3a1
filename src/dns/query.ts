// Reads a query's header, question and EDNS OPT straight from the bytes into a reusable view,
// and computes the cache key on the way: no decode, no allocation.

import {
  ADVERTISED_UDP_SIZE,
  EDNS_DO,
  FLAG_CD,
  FLAG_QR,
  HEADER_LENGTH,
  MAX_NAME_LENGTH,
  MIN_UDP_SIZE,
  OPCODE_MASK,
  TYPE,
} from "./constants.ts";
import { equalsIgnoreCase, skipName } from "./names.ts";

export const PARSE_OK = 0;
/** The header was readable but the rest is not a valid query: answer FORMERR. */
export const PARSE_FORMERR = 1;
/** Not even a header, or a response: drop silently. */
export const PARSE_DROP = 2;
/** An opcode other than QUERY: answer NOTIMP, whatever else the message holds (nothing more is read). */
export const PARSE_NOTIMP = 3;
/** A readable query whose OPT has an EDNS version other than 0: answer BADVERS (RFC 6891 6.1.3). */
export const PARSE_BADVERS = 4;

export type ParseResult =
  | typeof PARSE_OK
  | typeof PARSE_FORMERR
  | typeof PARSE_DROP
  | typeof PARSE_NOTIMP
  | typeof PARSE_BADVERS;

/** A mutable view of one query; one per socket, refilled for every packet. */
export class QueryView {
  buf: Buffer = Buffer.alloc(0);
  id = 0;
  flags = 0;
  opcode = 0;
  qdcount = 0;
  /** Offset just past the question name (where QTYPE starts); 0 when no question was read. */
  qnameEnd = 0;
  /** Offset just past QCLASS. */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  hasOpt = false;
  /** The client's UDP payload limit: 512 without EDNS, else max(512, advertised). */
  udpSize = MIN_UDP_SIZE;
  dnssecOk = false;
  checkingDisabled = false;
  /** The EDNS UDP size our upstream query for this one advertises (`bufsize` lowers it). */
  upstreamUdpSize = ADVERTISED_UDP_SIZE;
  /** Cache key: a 53-bit hash of lowercase qname, qtype, qclass, DO and CD. */
  key = 0;
}

/** Parse `buf` as a query into `view`. */
export function parseQuery(buf: Buffer, view: QueryView): ParseResult {
  view.buf = buf;
  view.qdcount = 0;
  view.qnameEnd = 0;
  view.questionEnd = 0;
  view.hasOpt = false;
  view.udpSize = MIN_UDP_SIZE;
  view.dnssecOk = false;
  view.upstreamUdpSize = ADVERTISED_UDP_SIZE;
  if (buf.length < HEADER_LENGTH) return PARSE_DROP;
  const flags = (buf[2]! << 8) | buf[3]!;
  if ((flags & FLAG_QR) !== 0) return PARSE_DROP;
  view.id = (buf[0]! << 8) | buf[1]!;
  view.flags = flags;
  view.opcode = (flags & OPCODE_MASK) >> 11;
  view.checkingDisabled = (flags & FLAG_CD) !== 0;
  if (view.opcode !== 0) return PARSE_NOTIMP; // before the section counts, as CoreDNS (miekg/dns)
  const qdcount = (buf[4]! << 8) | buf[5]!;
  const ancount = (buf[6]! << 8) | buf[7]!;
  const nscount = (buf[8]! << 8) | buf[9]!;
  const arcount = (buf[10]! << 8) | buf[11]!;
  view.qdcount = qdcount;
  if (qdcount !== 1 || ancount !== 0 || nscount !== 0) return PARSE_FORMERR;

  // Question name, uncompressed, hashed lowercase as we go (FNV-1a and a second multiplicative hash).
  let h1 = 0x811c9dc5;
  let h2 = 0x2f1a3b5d;
  let i = HEADER_LENGTH;
  for (;;) {
    if (i >= buf.length) return PARSE_FORMERR;
    const len = buf[i]!;
    if (len > 63) return PARSE_FORMERR; // compression or reserved label types have no place here
    const end = i + 1 + len;
    if (end > buf.length || end - HEADER_LENGTH > MAX_NAME_LENGTH) return PARSE_FORMERR;
    for (let k = i; k < end; k++) {
      let c = buf[k]!;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 + c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    i = end;
    if (len === 0) break;
  }
  if (i + 4 > buf.length) return PARSE_FORMERR;
  view.qnameEnd = i;
  view.qtype = (buf[i]! << 8) | buf[i + 1]!;
  view.qclass = (buf[i + 2]! << 8) | buf[i + 3]!;
  view.questionEnd = i + 4;

  // Additional section: find at most one OPT; skip anything else (e.g. TSIG, cookies live in OPT).
  let offset = view.questionEnd;
  let ednsVersion = 0;
  for (let r = 0; r < arcount; r++) {
    const nameEnd = skipName(buf, offset);
    if (nameEnd < 0 || nameEnd + 10 > buf.length) return PARSE_FORMERR;
    const type = (buf[nameEnd]! << 8) | buf[nameEnd + 1]!;
    const rdlength = (buf[nameEnd + 8]! << 8) | buf[nameEnd + 9]!;
    const next = nameEnd + 10 + rdlength;
    if (next > buf.length) return PARSE_FORMERR;
    if (type === TYPE.OPT) {
      if (view.hasOpt || nameEnd !== offset + 1) return PARSE_FORMERR; // duplicate, or owner not root
      view.hasOpt = true;
      const size = (buf[nameEnd + 2]! << 8) | buf[nameEnd + 3]!;
      view.udpSize = Math.max(size, MIN_UDP_SIZE);
      view.dnssecOk = (((buf[nameEnd + 6]! << 8) | buf[nameEnd + 7]!) & EDNS_DO) !== 0;
      ednsVersion = buf[nameEnd + 5]!;
    }
    offset = next;
  }

  const qtype = view.qtype;
  const bits = (view.dnssecOk ? 1 : 0) | (view.checkingDisabled ? 2 : 0);
  h1 = Math.imul(h1 ^ (qtype >> 8), 0x01000193);
  h1 = Math.imul(h1 ^ (qtype & 0xff), 0x01000193);
  h1 = Math.imul(h1 ^ view.qclass, 0x01000193);
  h1 = Math.imul(h1 ^ bits, 0x01000193);
  h2 = Math.imul(h2 + qtype + (view.qclass << 16) + (bits << 28), 0x5bd1e995) ^ (h2 >>> 13);
  view.key = (h1 >>> 0) * 0x200000 + (h2 & 0x1fffff);
  return ednsVersion === 0 ? PARSE_OK : PARSE_BADVERS;
}

/**
 * Whether a query's question (name case-insensitively, type and class exactly) matches a stored one
 * whose message starts at `start` in `stored` and whose question name ends at `storedQnameEnd`
 * (an offset from that start).
 */
export function sameQuestion(view: QueryView, stored: Buffer, storedQnameEnd: number, start = 0): boolean {
  const q = view.qnameEnd;
  if (storedQnameEnd !== q) return false;
  const a = view.buf;
  if (!equalsIgnoreCase(a, HEADER_LENGTH, stored, start + HEADER_LENGTH, q - HEADER_LENGTH)) return false;
  const at = start + q;
  return (
    a[q] === stored[at] &&
    a[q + 1] === stored[at + 1] &&
    a[q + 2] === stored[at + 2] &&
    a[q + 3] === stored[at + 3]
  );
}
