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
 * prefix kept. A reply whose records cannot be walked is cut to its header and question.
 */
export function fitToLimit(buf: Buffer, length: number, limit: number): number {
  if (length <= limit) return length;
  const qdcount = (buf[4]! << 8) | buf[5]!;
  const counts = [(buf[6]! << 8) | buf[7]!, (buf[8]! << 8) | buf[9]!, (buf[10]! << 8) | buf[11]!];
  let offset = HEADER_LENGTH;
  for (let q = 0; q < qdcount && offset >= 0; q++) {
    const end = skipName(buf, offset);
    offset = end < 0 || end + 4 > length ? -1 : end + 4;
  }
  if (offset < 0) return cut(buf, HEADER_LENGTH, 0, 0, 0, 0);
  const questionEnd = offset;
  // The OPT record (additional section only) must survive; find it first.
  let optStart = -1;
  let optEnd = -1;
  const total = counts[0]! + counts[1]! + counts[2]!;
  for (let r = 0, at = questionEnd; r < total; r++) {
    const next = recordEnd(buf, at, length);
    if (next < 0) break;
    if (r >= counts[0]! + counts[1]! && ((buf[at + 1]! << 8) | buf[at + 2]!) === TYPE.OPT && buf[at] === 0) {
      optStart = at;
      optEnd = next;
    }
    at = next;
  }
  const optLength = optStart < 0 ? 0 : optEnd - optStart;
  // Walk the records again, keeping every record (OPT aside) while the prefix plus OPT still fits.
  const kept = [0, 0, 0];
  let keptEnd = questionEnd;
  let optInside = false;
  let at = questionEnd;
  for (let r = 0; r < total; r++) {
    const next = recordEnd(buf, at, length);
    if (next < 0) break;
    const isOpt = at === optStart;
    if (!isOpt && next + (optInside ? 0 : optLength) > limit) break;
    if (isOpt) optInside = true;
    else kept[sectionOf(r, counts)]!++;
    keptEnd = next;
    at = next;
  }
  if (optStart >= 0 && !optInside) {
    buf.copyWithin(keptEnd, optStart, optEnd); // the OPT lies after the cut: move it down
    keptEnd += optLength;
  }
  return cut(buf, keptEnd, qdcount, kept[0]!, kept[1]!, kept[2]! + (optStart >= 0 ? 1 : 0));
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

function sectionOf(index: number, counts: number[]): number {
  if (index < counts[0]!) return 0;
  return index < counts[0]! + counts[1]! ? 1 : 2;
}
