// Truncation of a reply that exceeds a UDP client's limit. The agreed signature (issue 11 replaces
// the body with CoreDNS's rule: keep the whole records that fit); until then the reply keeps only
// its header, question and OPT, with TC=1, as before.

import { FLAG_TC, HEADER_LENGTH, TYPE } from "./constants.ts";
import { skipName } from "./names.ts";

/** Rewrite the reply of `length` bytes in `buf` in place to fit `limit`; returns the new length. */
export function fitToLimit(buf: Buffer, length: number, limit: number): number {
  if (length <= limit) return length;
  const qdcount = (buf[4]! << 8) | buf[5]!;
  let offset = HEADER_LENGTH;
  for (let q = 0; q < qdcount; q++) {
    const end = skipName(buf, offset);
    if (end < 0 || end + 4 > length) return truncateAt(buf, HEADER_LENGTH, 0, 0);
    offset = end + 4;
  }
  const questionEnd = offset;
  const records = ((buf[6]! << 8) | buf[7]!) + ((buf[8]! << 8) | buf[9]!) + ((buf[10]! << 8) | buf[11]!);
  for (let r = 0; r < records; r++) {
    const start = offset;
    const nameEnd = skipName(buf, offset);
    if (nameEnd < 0 || nameEnd + 10 > length) break;
    offset = nameEnd + 10 + ((buf[nameEnd + 8]! << 8) | buf[nameEnd + 9]!);
    if (offset > length) break;
    if (((buf[nameEnd]! << 8) | buf[nameEnd + 1]!) === TYPE.OPT) {
      const optLength = offset - start;
      if (questionEnd + optLength > limit) break;
      buf.copy(buf, questionEnd, start, offset);
      return truncateAt(buf, questionEnd, optLength, 1);
    }
  }
  return truncateAt(buf, questionEnd, 0, 0);
}

function truncateAt(buf: Buffer, questionEnd: number, optLength: number, arcount: number): number {
  buf[2]! |= FLAG_TC >> 8;
  buf.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  buf.writeUInt16BE(arcount, 10);
  if (questionEnd === HEADER_LENGTH) buf.writeUInt16BE(0, 4);
  return questionEnd + optLength;
}
