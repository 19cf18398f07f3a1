// A small DNS message writer with name compression, and a reader that copies records out of
// another reply with their names expanded (so they can be re-emitted in a new message).

import { HEADER_LENGTH, skipName, TYPE } from "../dns/index.ts";
import { ipv4Bytes, ipv6Bytes } from "./ip.ts";

export type RData =
  | { type: 1; ip: string }
  | { type: 28; ip: string }
  | { type: 5 | 12 | 2; target: string }
  | { type: 33; priority: number; weight: number; port: number; target: string }
  | { type: 16; texts: string[] }
  | {
      type: 6;
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    };

export interface Rr {
  /** Presentation form (trailing dot) or a label array (case preserved, from another reply). */
  name: string | string[];
  ttl: number;
  data: RData | RawRData;
}

/** Record data copied verbatim from another message (names inside already expanded). */
export interface RawRData {
  type: number;
  raw: Buffer;
  cls: number;
}

function labelsOf(name: string | string[]): string[] {
  if (Array.isArray(name)) return name;
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  return trimmed === "" ? [] : trimmed.split(".");
}

export class WireWriter {
  buf: Buffer;
  pos = 0;
  private readonly suffixes = new Map<string, number>();

  constructor(size = 512) {
    this.buf = Buffer.alloc(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** Register the names of an uncompressed name already in the buffer (e.g. the question). */
  registerAt(offset: number): void {
    const labels: string[] = [];
    const offsets: number[] = [];
    let i = offset;
    while (this.buf[i]! !== 0) {
      const len = this.buf[i]!;
      offsets.push(i);
      labels.push(this.buf.toString("latin1", i + 1, i + 1 + len).toLowerCase());
      i += len + 1;
    }
    for (let k = 0; k < labels.length; k++) {
      const key = labels.slice(k).join(".");
      if (!this.suffixes.has(key) && offsets[k]! < 0x3fff) this.suffixes.set(key, offsets[k]!);
    }
  }

  /** Write a name, compressed against every name written before. */
  name(name: string | string[], compress = true): void {
    const labels = labelsOf(name);
    const lower = labels.map((l) => l.toLowerCase());
    for (let k = 0; k < labels.length; k++) {
      const key = lower.slice(k).join(".");
      const at = compress ? this.suffixes.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos < 0x3fff && !this.suffixes.has(key)) this.suffixes.set(key, this.pos);
      const bytes = Buffer.from(labels[k]!, "latin1");
      this.u8(bytes.length);
      this.bytes(bytes);
    }
    this.u8(0);
  }

  rr(rr: Rr): void {
    this.name(rr.name);
    const data = rr.data;
    this.u16(data.type);
    this.u16("cls" in data ? data.cls : 1);
    this.u32(rr.ttl);
    const lengthAt = this.pos;
    this.u16(0);
    if ("raw" in data) this.bytes(data.raw);
    else this.rdata(data);
    this.buf.writeUInt16BE(this.pos - lengthAt - 2, lengthAt);
  }

  private rdata(data: RData): void {
    switch (data.type) {
      case TYPE.A:
        this.bytes(ipv4Bytes(data.ip));
        return;
      case TYPE.AAAA:
        this.bytes(ipv6Bytes(data.ip));
        return;
      case TYPE.CNAME:
      case TYPE.PTR:
      case TYPE.NS:
        this.name(data.target);
        return;
      case TYPE.SRV:
        this.u16(data.priority);
        this.u16(data.weight);
        this.u16(data.port);
        this.name(data.target, false); // RFC 2782: no compression in SRV targets
        return;
      case TYPE.TXT:
        for (const text of data.texts) {
          const bytes = Buffer.from(text, "utf8").subarray(0, 255);
          this.u8(bytes.length);
          this.bytes(bytes);
        }
        return;
      case TYPE.SOA:
        this.name(data.mname);
        this.name(data.rname);
        this.u32(data.serial);
        this.u32(data.refresh);
        this.u32(data.retry);
        this.u32(data.expire);
        this.u32(data.minimum);
        return;
    }
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Read a possibly compressed name at `offset` as labels (case kept); null when malformed. */
export function readLabels(buf: Buffer, offset: number): string[] | null {
  const labels: string[] = [];
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (i >= buf.length) return null;
    const len = buf[i]!;
    if (len === 0) return labels;
    if ((len & 0xc0) === 0xc0) {
      if (i + 1 >= buf.length) return null;
      i = ((len & 0x3f) << 8) | buf[i + 1]!;
      continue;
    }
    if (len > 63 || i + 1 + len > buf.length) return null;
    labels.push(buf.toString("latin1", i + 1, i + 1 + len));
    i += len + 1;
  }
  return null;
}

function nameBytes(labels: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, "latin1");
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface CopiedSections {
  rcode: number;
  flags: number;
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
}

/** Copy a reply's records with every name expanded; OPT records are dropped. Null if malformed. */
export function copySections(reply: Buffer): CopiedSections | null {
  if (reply.length < HEADER_LENGTH) return null;
  const counts = [reply.readUInt16BE(6), reply.readUInt16BE(8), reply.readUInt16BE(10)];
  let offset = HEADER_LENGTH;
  for (let q = reply.readUInt16BE(4); q > 0; q--) {
    const end = skipName(reply, offset);
    if (end < 0) return null;
    offset = end + 4;
  }
  const sections: Rr[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let r = 0; r < counts[s]!; r++) {
      const owner = readLabels(reply, offset);
      const nameEnd = skipName(reply, offset);
      if (owner === null || nameEnd < 0 || nameEnd + 10 > reply.length) return null;
      const type = reply.readUInt16BE(nameEnd);
      const cls = reply.readUInt16BE(nameEnd + 2);
      const ttl = reply.readUInt32BE(nameEnd + 4);
      const rdStart = nameEnd + 10;
      const rdEnd = rdStart + reply.readUInt16BE(nameEnd + 8);
      if (rdEnd > reply.length) return null;
      offset = rdEnd;
      if (type === TYPE.OPT) continue;
      const raw = expandRData(reply, type, rdStart, rdEnd);
      if (raw === null) return null;
      sections[s]!.push({ name: owner, ttl, data: { type, cls, raw } });
    }
  }
  return {
    rcode: reply[3]! & 0x0f,
    flags: reply.readUInt16BE(2),
    answer: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
  };
}

/** RData with embedded names decompressed (the RFC 1035 types, SRV and MX). */
function expandRData(buf: Buffer, type: number, start: number, end: number): Buffer | null {
  const name = (at: number): [Buffer, number] | null => {
    const labels = readLabels(buf, at);
    const next = skipName(buf, at);
    return labels === null || next < 0 ? null : [nameBytes(labels), next];
  };
  switch (type) {
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.NS: {
      const n = name(start);
      return n === null ? null : n[0];
    }
    case TYPE.MX:
    case TYPE.SRV: {
      const fixed = type === TYPE.MX ? 2 : 6;
      const n = name(start + fixed);
      return n === null ? null : Buffer.concat([buf.subarray(start, start + fixed), n[0]]);
    }
    case TYPE.SOA: {
      const m = name(start);
      if (m === null) return null;
      const r = name(m[1]);
      if (r === null || r[1] + 20 > end) return null;
      return Buffer.concat([m[0], r[0], buf.subarray(r[1], r[1] + 20)]);
    }
    default:
      return Buffer.from(buf.subarray(start, end));
  }
}
