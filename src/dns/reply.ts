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
 * A reply kept as wire bytes without OPT, each TTL field holding the TTL to count down from, plus
 * the offsets of those TTL fields as 16-bit big-endian numbers in `offsets` (where a cache arena
 * keeps them right after the wire bytes).
 */
export interface StoredReply {
  wire: Buffer;
  questionEnd: number;
  qnameEnd: number;
  offsets: Buffer;
  ttlCount: number;
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

/** The most bytes renderInto writes for a stored reply of `wireLength` bytes. */
function renderedSize(wireLength: number, view: QueryView): number {
  return wireLength + (view.hasOpt ? OPT_RECORD_LENGTH : 0);
}

/**
 * The hot path: write the stored reply at src[start, start + length) into `out` for this query:
 * the client's ID and question spelling, RD/CD from the query, AA as given, each TTL (at the
 * offsets read from `offsets` at `offsetsAt`) counted down by `elapsedSec`, and our OPT when the
 * client sent one; cut to `limit` by fitToLimit. `out` must hold renderedSize() bytes. Returns the
 * length written. Allocates nothing.
 */
export function renderInto(
  out: Buffer,
  src: Buffer,
  start: number,
  length: number,
  offsets: Buffer,
  offsetsAt: number,
  ttlCount: number,
  view: QueryView,
  elapsedSec: number,
  authoritative: boolean,
  limit: number,
): number {
  src.copy(out, 0, start, start + length);
  const q = view.buf;
  const flags =
    (((out[2]! << 8) | out[3]!) & ~(FLAG_RD | FLAG_CD | FLAG_AA | FLAG_TC)) |
    (view.flags & (FLAG_RD | FLAG_CD)) |
    (authoritative ? FLAG_AA : 0);
  out[0] = q[0]!;
  out[1] = q[1]!;
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  q.copy(out, HEADER_LENGTH, HEADER_LENGTH, view.qnameEnd); // the client's 0x20 spelling
  for (let i = 0; i < ttlCount; i++) {
    const at = (offsets[offsetsAt + 2 * i]! << 8) | offsets[offsetsAt + 2 * i + 1]!;
    const ttl = src.readUInt32BE(start + at) - elapsedSec;
    out.writeUInt32BE(ttl > 0 ? ttl : 0, at);
  }
  let size = length;
  if (view.hasOpt) {
    writeOpt(out, length, view.dnssecOk);
    out.writeUInt16BE(((out[10]! << 8) | out[11]!) + 1, 10);
    size += OPT_RECORD_LENGTH;
  }
  return fitToLimit(out, size, limit);
}

/** renderInto a fresh buffer of the rendered length (replies that are not on the hit path). */
export function renderStored(
  stored: StoredReply,
  view: QueryView,
  elapsedSec: number,
  authoritative: boolean,
  limit: number,
): Buffer {
  const wire = stored.wire;
  const out = Buffer.allocUnsafe(renderedSize(wire.length, view));
  const length = renderInto(
    out,
    wire,
    0,
    wire.length,
    stored.offsets,
    0,
    stored.ttlCount,
    view,
    elapsedSec,
    authoritative,
    limit,
  );
  return length === out.length ? out : out.subarray(0, length);
}

/**
 * Turn an upstream reply into a StoredReply: strip its OPT (we add our own per client), and read
 * each TTL as RFC 2181 does (the high bit means zero). Returns null when the OPT is not the last
 * record (stripping would move compression targets).
 */
export function toStored(reply: Buffer, scan: ReplyScan): StoredReply | null {
  if (scan.optOffset >= 0 && scan.optOffset + scan.optLength !== reply.length) return null;
  const length = scan.optOffset >= 0 ? scan.optOffset : reply.length;
  const wire = Buffer.allocUnsafe(length);
  reply.copy(wire, 0, 0, length);
  if (scan.optOffset >= 0) wire.writeUInt16BE(scan.arcount - 1, 10);
  const ttlCount = scan.ttlOffsets.length;
  const offsets = Buffer.allocUnsafe(2 * ttlCount);
  for (let i = 0; i < ttlCount; i++) {
    const at = scan.ttlOffsets[i]!;
    offsets.writeUInt16BE(at, 2 * i);
    if (wire.readUInt32BE(at) > 0x7fffffff) wire.writeUInt32BE(0, at);
  }
  return {
    wire,
    questionEnd: scan.questionEnd,
    qnameEnd: qnameEndOf(wire, scan.questionEnd),
    offsets,
    ttlCount,
  };
}

/** Offset just past the (uncompressed) question name of a reply. */
export function qnameEndOf(wire: Buffer, questionEnd: number): number {
  let i = HEADER_LENGTH;
  while (i < questionEnd && wire[i] !== 0) i += wire[i]! + 1;
  return i + 1;
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
