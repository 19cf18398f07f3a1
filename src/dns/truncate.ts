// UDP truncation as CoreDNS does it (miekg/dns Msg.Truncate): keep the longest run of whole records
// that fits, in order (answer, then authority, then additional), keep the OPT record, set TC.

import { FLAG_TC, HEADER_LENGTH, TYPE } from "./constants.ts";
import { skipName } from "./names.ts";

/**
 * Rewrites the complete reply of `length` bytes in `buf` IN PLACE so that it fits `limit` bytes:
 * keeps as many whole records as fit (additional go first, then authority, then trailing answers),
 * keeps an OPT record of the additional section (moved to the end of what is kept), fixes the
 * section counts, sets TC=1, and returns the new length. Returns `length` unchanged when it already
 * fits. Allocates nothing. Compression pointers stay valid: they only point backwards, into the
 * prefix kept. A reply whose question cannot be read is cut to its header.
 */
export function fitToLimit(buf: Buffer, length: number, limit: number): number {
  if (length <= limit) return length;
  const qdcount = (buf[4]! << 8) | buf[5]!;
  const ancount = (buf[6]! << 8) | buf[7]!;
  const nscount = (buf[8]! << 8) | buf[9]!;
  const total = ancount + nscount + ((buf[10]! << 8) | buf[11]!);
  let offset = HEADER_LENGTH;
  for (let q = 0; q < qdcount && offset >= 0; q++) {
    const end = skipName(buf, offset);
    offset = end < 0 || end + 4 > length ? -1 : end + 4;
  }
  if (offset < 0) return cut(buf, HEADER_LENGTH, 0, 0, 0, 0);
  const questionEnd = offset;
  // The OPT record (root owner, in the additional section) must survive: find it first.
  let optStart = -1;
  let optEnd = -1;
  for (let r = 0, at = questionEnd; r < total; r++) {
    const next = recordEnd(buf, at, length);
    if (next < 0) break;
    if (r >= ancount + nscount && buf[at] === 0 && ((buf[at + 1]! << 8) | buf[at + 2]!) === TYPE.OPT) {
      optStart = at;
      optEnd = next;
    }
    at = next;
  }
  const optLength = optEnd - optStart;
  // Keep every record (the OPT aside) while the prefix, plus the OPT when it lies beyond, still fits.
  let keptAnswers = 0;
  let keptAuthority = 0;
  let keptAdditional = 0;
  let keptEnd = questionEnd;
  let optInside = false;
  for (let r = 0, at = questionEnd; r < total; r++) {
    const next = recordEnd(buf, at, length);
    if (next < 0) break;
    if (at === optStart) optInside = true;
    else if (next + (optInside ? 0 : optLength) > limit) break;
    else if (r < ancount) keptAnswers++;
    else if (r < ancount + nscount) keptAuthority++;
    else keptAdditional++;
    keptEnd = next;
    at = next;
  }
  if (optStart >= 0 && !optInside) {
    buf.copyWithin(keptEnd, optStart, optEnd); // the OPT lies after the cut: move it down
    keptEnd += optLength;
  }
  const additional = keptAdditional + (optStart >= 0 ? 1 : 0);
  return cut(buf, keptEnd, qdcount, keptAnswers, keptAuthority, additional);
}

/** Writes the section counts and TC; returns `end` (the new length). */
function cut(buf: Buffer, end: number, qd: number, an: number, ns: number, ar: number): number {
  buf[4] = qd >> 8;
  buf[5] = qd & 0xff;
  buf[6] = an >> 8;
  buf[7] = an & 0xff;
  buf[8] = ns >> 8;
  buf[9] = ns & 0xff;
  buf[10] = ar >> 8;
  buf[11] = ar & 0xff;
  buf[2]! |= FLAG_TC >> 8;
  return end;
}

/** The end of the resource record starting at `at`, or -1 when it runs past `length`. */
function recordEnd(buf: Buffer, at: number, length: number): number {
  const nameEnd = skipName(buf, at);
  if (nameEnd < 0 || nameEnd + 10 > length) return -1;
  const end = nameEnd + 10 + ((buf[nameEnd + 8]! << 8) | buf[nameEnd + 9]!);
  return end > length ? -1 : end;
}
