// CoreDNS loadbalance's round_robin on wire bytes, in place: in each section, CNAMEs first, then the
// other records, then the A/AAAA records shuffled, then the MX records shuffled. Records move as
// whole byte ranges; every compression pointer into a moved record (or sitting in one) is rewritten.
// Scratch memory is allocated once, on the first reply worth a look: shuffling allocates nothing.

import { HEADER_LENGTH, TYPE } from "./constants.ts";

const MAX_RECORDS = 2048;
const MAX_POINTERS = 8192;

const counts = new Int32Array(3);
const seen = new Int32Array(4);
// Sized by allocate() on first use: a daemon without loadbalance never pays for them.
let start = new Int32Array(0);
let delta = new Int32Array(0);
let kind = new Uint8Array(0);
let order = new Int32Array(0);
let pointerAt = new Int32Array(0);
let scratch = Buffer.alloc(0);

function allocate(): void {
  if (scratch.length !== 0) return;
  start = new Int32Array(MAX_RECORDS + 1);
  delta = new Int32Array(MAX_RECORDS);
  kind = new Uint8Array(MAX_RECORDS);
  order = new Int32Array(MAX_RECORDS);
  pointerAt = new Int32Array(MAX_POINTERS);
  scratch = Buffer.allocUnsafe(65535);
}

const KIND_CNAME = 0;
const KIND_REST = 1;
const KIND_ADDRESS = 2;
const KIND_MX = 3;

let pointers = 0;

/** Walk a name at `offset`, noting where its compression pointer sits; the offset after it, or -1. */
function walkName(buf: Buffer, offset: number, end: number): number {
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (i >= end) return -1;
    const len = buf[i]!;
    if (len === 0) return i + 1;
    if ((len & 0xc0) === 0xc0) {
      if (i + 2 > end || pointers === MAX_POINTERS) return -1;
      pointerAt[pointers++] = i;
      return i + 2;
    }
    if (len > 63) return -1;
    i += 1 + len;
  }
  return -1;
}

/** Names inside RDATA that may be compressed (RFC 3597 section 4 lists the types). */
function walkRdata(buf: Buffer, type: number, rdata: number, end: number): boolean {
  switch (type) {
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
      return walkName(buf, rdata, end) >= 0;
    case TYPE.MX:
      return walkName(buf, rdata + 2, end) >= 0;
    case TYPE.SOA: {
      const next = walkName(buf, rdata, end);
      return next >= 0 && walkName(buf, next, end) >= 0;
    }
    default:
      return true;
  }
}

function kindOf(type: number): number {
  if (type === TYPE.A || type === TYPE.AAAA) return KIND_ADDRESS;
  if (type === TYPE.MX) return KIND_MX;
  if (type === TYPE.CNAME) return KIND_CNAME;
  return KIND_REST;
}

/** Shuffle `indices` [from, to) of `order` in place, as CoreDNS's roundRobinShuffle. */
function shuffle(from: number, to: number): void {
  const n = to - from;
  if (n < 2) return;
  if (n === 2) {
    if (Math.random() < 0.5) {
      const t = order[from]!;
      order[from] = order[from + 1]!;
      order[from + 1] = t;
    }
    return;
  }
  for (let j = 0; j < n; j++) {
    const p = j + Math.floor(Math.random() * (n - j));
    const t = order[from + j]!;
    order[from + j] = order[from + p]!;
    order[from + p] = t;
  }
}

/** The index of the record holding byte `offset`, or -1 when it is before the first record. */
function recordAt(offset: number, count: number): number {
  let lo = 0;
  let hi = count - 1;
  if (count === 0 || offset < start[0]!) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (start[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A new order per section (CoreDNS's partition, addresses and MX shuffled) and each record's move. */
function reorder(): void {
  let first = 0;
  for (let s = 0; s < 3; s++) {
    const count = counts[s]!;
    let n = first;
    for (let k = KIND_CNAME; k <= KIND_MX; k++) {
      const from = n;
      for (let r = first; r < first + count; r++) if (kind[r] === k) order[n++] = r;
      if (k >= KIND_ADDRESS) shuffle(from, n);
    }
    let at = start[first]!;
    for (let i = first; i < first + count; i++) {
      const r = order[i]!;
      delta[r] = at - start[r]!;
      at += start[r + 1]! - start[r]!;
    }
    first += count;
  }
}

function pointersStayValid(buf: Buffer, total: number): boolean {
  for (let p = 0; p < pointers; p++) {
    const at = pointerAt[p]!;
    const target = buf.readUInt16BE(at) & 0x3fff;
    const from = recordAt(at, total);
    const holder = recordAt(target, total);
    const newAt = from >= 0 ? at + delta[from]! : at;
    const newTarget = holder >= 0 ? target + delta[holder]! : target;
    if (newTarget > 0x3fff || newTarget >= newAt) return false;
  }
  return true;
}

/**
 * Reorder the records of `buf[0, length)` as CoreDNS's round_robin does. Returns whether anything
 * moved; a reply it cannot read completely, or a very large one, is left as it is.
 */
export function shuffleRecords(buf: Buffer, length: number): boolean {
  if (length < HEADER_LENGTH) return false;
  const qdcount = buf.readUInt16BE(4);
  counts[0] = buf.readUInt16BE(6);
  counts[1] = buf.readUInt16BE(8);
  counts[2] = buf.readUInt16BE(10);
  const total = counts[0]! + counts[1]! + counts[2]!;
  if (total < 2 || total > MAX_RECORDS) return false;
  allocate();
  pointers = 0;
  let offset = HEADER_LENGTH;
  for (let q = 0; q < qdcount; q++) {
    offset = walkName(buf, offset, length);
    if (offset < 0 || offset + 4 > length) return false;
    offset += 4;
  }
  let worth = false;
  seen.fill(0);
  let section = 0;
  let inSection = 0;
  for (let r = 0; r < total; r++) {
    while (inSection === counts[section]) {
      section++;
      inSection = 0;
      seen.fill(0);
    }
    inSection++;
    start[r] = offset;
    const nameEnd = walkName(buf, offset, length);
    if (nameEnd < 0 || nameEnd + 10 > length) return false;
    const type = buf.readUInt16BE(nameEnd);
    const rdata = nameEnd + 10;
    const end = rdata + buf.readUInt16BE(nameEnd + 8);
    if (end > length || !walkRdata(buf, type, rdata, end)) return false;
    const k = kindOf(type);
    kind[r] = k;
    if (k >= KIND_ADDRESS && ++seen[k]! === 2) worth = true;
    offset = end;
  }
  start[total] = offset;
  if (!worth) return false;

  // A pointer must point backwards (RFC 1035 4.1.4: to a prior occurrence) and within 14 bits;
  // an order that breaks that (one record's name reused from a later one) is drawn again.
  let valid = false;
  for (let attempt = 0; attempt < 8 && !valid; attempt++) {
    reorder();
    valid = pointersStayValid(buf, total);
  }
  if (!valid) return false;
  // Rewrite pointer targets in place (positions are old ones), then move the records.
  for (let p = 0; p < pointers; p++) {
    const at = pointerAt[p]!;
    const target = buf.readUInt16BE(at) & 0x3fff;
    const holder = recordAt(target, total);
    if (holder >= 0) buf.writeUInt16BE(0xc000 | (target + delta[holder]!), at);
  }
  const begin = start[0]!;
  for (let r = 0; r < total; r++) buf.copy(scratch, start[r]! + delta[r]! - begin, start[r]!, start[r + 1]!);
  scratch.copy(buf, begin, 0, offset - begin);
  return true;
}
