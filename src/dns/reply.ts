// Builds replies from raw bytes: error answers, truncated answers, the OPT we append, upstream
// queries, and the hot-path copy of a stored reply with ID, question spelling and TTLs patched.

import {
  ADVERTISED_UDP_SIZE,
  EDNS_DO,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RD,
  FLAG_TC,
  HEADER_LENGTH,
  OPCODE_MASK,
  OPT_RECORD_LENGTH,
  RCODE_MASK,
  TYPE,
} from "./constants.ts";
import type { QueryView } from "./query.ts";
import type { ReplyScan } from "./records.ts";
import { fitToLimit } from "./truncate.ts";

/**
 * A reply kept as wire bytes (without OPT) with the offsets of its TTL fields. The lists are plain
 * arrays of exactly their length: a cache keeps these by the ten thousand, and two typed arrays
 * cost about 300 bytes per reply where two small arrays cost about 50.
 */
export interface StoredReply {
  wire: Buffer;
  questionEnd: number;
  qnameEnd: number;
  ttlOffsets: number[];
  ttls: number[];
}

/** Our OPT record (root owner, UDP size, version 0, DO as asked, no options) at `offset`. */
export function writeOpt(
  out: Buffer,
  offset: number,
  dnssecOk: boolean,
  extendedRcode = 0,
  udpSize = ADVERTISED_UDP_SIZE,
): void {
  out[offset] = 0; // root owner
  out.writeUInt16BE(TYPE.OPT, offset + 1);
  out.writeUInt16BE(udpSize, offset + 3);
  out[offset + 5] = extendedRcode >> 4; // the upper 8 bits of a 12-bit rcode
  out[offset + 6] = 0; // EDNS version 0
  out.writeUInt16BE(dnssecOk ? EDNS_DO : 0, offset + 7);
  out.writeUInt16BE(0, offset + 9);
}

/**
 * Header + question (when readable) + OPT (when the query had one), with the given rcode (an
 * extended one goes partly into the OPT). RA is not set: CoreDNS sets it on none of the replies it
 * makes itself; it means something on answers, which carry the upstream's bit.
 */
export function errorReply(view: QueryView, rcode: number, extraFlags = 0): Buffer {
  const questionLength = view.questionEnd > 0 ? view.questionEnd - HEADER_LENGTH : 0;
  const withOpt = view.hasOpt && questionLength > 0;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + questionLength + (withOpt ? OPT_RECORD_LENGTH : 0));
  const q = view.buf;
  out[0] = q[0]!;
  out[1] = q[1]!;
  const flags =
    FLAG_QR | (view.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | extraFlags | (rcode & RCODE_MASK);
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(questionLength > 0 ? 1 : 0, 4);
  out.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  out.writeUInt16BE(withOpt ? 1 : 0, 10);
  if (questionLength > 0) q.copy(out, HEADER_LENGTH, HEADER_LENGTH, view.questionEnd);
  if (withOpt) writeOpt(out, HEADER_LENGTH + questionLength, view.dnssecOk, rcode);
  return out;
}

/**
 * The hot path: copy a stored reply for this query. Writes the client's ID and question spelling,
 * RD/CD from the query, AA as given, each TTL counted down by `elapsedSec`, and our OPT when the
 * client sent one. Over `limit` (UDP), keeps the whole records that fit and sets TC (fitToLimit).
 */
export function renderStored(
  stored: StoredReply,
  view: QueryView,
  elapsedSec: number,
  authoritative: boolean,
  limit: number,
): Buffer {
  const wire = stored.wire;
  const size = wire.length + (view.hasOpt ? OPT_RECORD_LENGTH : 0);
  const flags =
    (((wire[2]! << 8) | wire[3]!) & ~(FLAG_RD | FLAG_CD | FLAG_AA | FLAG_TC)) |
    (view.flags & (FLAG_RD | FLAG_CD)) |
    (authoritative ? FLAG_AA : 0);
  const out = Buffer.allocUnsafe(size);
  wire.copy(out, 0, 0, wire.length);
  const q = view.buf;
  out[0] = q[0]!;
  out[1] = q[1]!;
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  q.copy(out, HEADER_LENGTH, HEADER_LENGTH, view.qnameEnd); // the client's 0x20 spelling
  const offsets = stored.ttlOffsets;
  const ttls = stored.ttls;
  for (let i = 0; i < offsets.length; i++) {
    const ttl = ttls[i]! - elapsedSec;
    out.writeUInt32BE(Math.max(ttl, 0), offsets[i]!);
  }
  if (view.hasOpt) {
    writeOpt(out, wire.length, view.dnssecOk);
    out.writeUInt16BE(((wire[10]! << 8) | wire[11]!) + 1, 10);
  }
  if (size <= limit) return out;
  return out.subarray(0, fitToLimit(out, size, limit));
}

/**
 * Turn an upstream reply into a StoredReply: strip its OPT (we add our own per client). Returns
 * null when the OPT is not the last record (stripping would move compression targets).
 */
export function toStored(reply: Buffer, scan: ReplyScan): StoredReply | null {
  let wire = reply;
  if (scan.optOffset >= 0) {
    if (scan.optOffset + scan.optLength !== reply.length) return null;
    wire = Buffer.allocUnsafe(scan.optOffset);
    reply.copy(wire, 0, 0, scan.optOffset);
    wire.writeUInt16BE(scan.arcount - 1, 10);
  } else {
    wire = Buffer.from(reply);
  }
  const ttlOffsets = scan.ttlOffsets.slice(); // exact length: the scan's list grew by push
  const ttls = ttlOffsets.map((offset) => {
    const ttl = wire.readUInt32BE(offset);
    return ttl > 0x7fffffff ? 0 : ttl;
  });
  let qnameEnd = HEADER_LENGTH;
  while (qnameEnd < scan.questionEnd && wire[qnameEnd] !== 0) qnameEnd += wire[qnameEnd]! + 1;
  return { wire, questionEnd: scan.questionEnd, qnameEnd: qnameEnd + 1, ttlOffsets, ttls };
}

/** A query for an upstream: the client's question with our ID, RD/CD as asked, and our OPT. */
export function upstreamQuery(view: QueryView, id: number): Buffer {
  const questionLength = view.questionEnd - HEADER_LENGTH;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + questionLength + OPT_RECORD_LENGTH);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(view.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(1, 10);
  view.buf.copy(out, HEADER_LENGTH, HEADER_LENGTH, view.questionEnd);
  writeOpt(out, HEADER_LENGTH + questionLength, view.dnssecOk, 0, view.upstreamUdpSize);
  return out;
}

/** A fresh query for NAME (wire form) and TYPE with RD set and no EDNS. */
export function buildQuery(id: number, nameWire: Buffer, qtype: number, recursionDesired = true): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + nameWire.length + 4);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(recursionDesired ? FLAG_RD : 0, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  nameWire.copy(out, HEADER_LENGTH);
  out.writeUInt16BE(qtype, HEADER_LENGTH + nameWire.length);
  out.writeUInt16BE(1, HEADER_LENGTH + nameWire.length + 2);
  return out;
}

/** Whether a reply's question equals the query's (name without case, type, class). */
export function replyMatchesQuery(reply: Buffer, query: Buffer): boolean {
  if (reply.length < HEADER_LENGTH || reply.readUInt16BE(4) !== 1) return false;
  let i = HEADER_LENGTH;
  for (;;) {
    if (i >= query.length || i >= reply.length) return false;
    const len = query[i]!;
    if (reply[i] !== len || len > 63) return false;
    for (let k = i + 1; k <= i + len; k++) {
      let x = query[k]!;
      let y = reply[k]!;
      if (x >= 0x41 && x <= 0x5a) x += 0x20;
      if (y >= 0x41 && y <= 0x5a) y += 0x20;
      if (x !== y) return false;
    }
    i += len + 1;
    if (len === 0) break;
  }
  if (i + 4 > reply.length || i + 4 > query.length) return false;
  return reply.readUInt32BE(i) === query.readUInt32BE(i);
}
