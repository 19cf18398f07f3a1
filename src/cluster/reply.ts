// Reply construction for cluster answers: stored templates for names in the index (rendered by
// dns/renderStored), negative answers with the zone's SOA, and replies composed per query.

import {
  ADVERTISED_UDP_SIZE,
  EDNS_DO,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  HEADER_LENGTH,
  OPCODE_MASK,
  OPT_RECORD_LENGTH,
  type QueryView,
  type StoredReply,
  TYPE,
} from "../dns/index.ts";
import type { NameRecords } from "./build.ts";
import { type Rr, WireWriter } from "./wire.ts";

export const SOA_REFRESH = 7200;
export const SOA_RETRY = 1800;
export const SOA_EXPIRE = 86400;
const NEGATIVE_TAIL = 54;

/** The records a name holds for a query type, or null when it holds none (NODATA). */
export function recordsFor(name: string, records: NameRecords, qtype: number, ttl: number): Rr[] | null {
  if (records.cname !== "") return [{ name, ttl, data: { type: TYPE.CNAME, target: records.cname } }];
  switch (qtype) {
    case TYPE.A:
      return records.a.length === 0
        ? null
        : records.a.map((ip) => ({ name, ttl, data: { type: TYPE.A, ip } }));
    case TYPE.AAAA:
      return records.aaaa.length === 0
        ? null
        : records.aaaa.map((ip) => ({ name, ttl, data: { type: TYPE.AAAA, ip } }));
    case TYPE.SRV:
      return records.srv.length === 0
        ? null
        : records.srv.map((s) => ({ name, ttl, data: { type: TYPE.SRV, ...s } }));
    case TYPE.PTR:
      return records.ptr.length === 0
        ? null
        : records.ptr.map((target) => ({ name, ttl, data: { type: TYPE.PTR, target } }));
    case TYPE.TXT:
      return records.txt.length === 0 ? null : [{ name, ttl, data: { type: TYPE.TXT, texts: records.txt } }];
    default:
      return null;
  }
}

/** SRV glue (A/AAAA of the targets) for the Additional section. */
export function glueFor(records: NameRecords, ttl: number): Rr[] {
  return records.glue.map(([name, ip]) => ({
    name,
    ttl,
    data: ip.includes(":") ? { type: TYPE.AAAA, ip } : { type: TYPE.A, ip },
  }));
}

/** A positive reply for the lowercase `qname`, kept for renderStored (no TTL patching needed). */
export function storedAnswer(qname: string, qtype: number, answer: Rr[], additional: Rr[]): StoredReply {
  const w = new WireWriter(256);
  w.u16(0);
  w.u16(FLAG_QR | FLAG_AA | FLAG_RA);
  w.u16(1);
  w.u16(answer.length);
  w.u16(0);
  w.u16(additional.length);
  w.name(qname);
  const qnameEnd = w.pos;
  w.u16(qtype);
  w.u16(1);
  const questionEnd = w.pos;
  for (const rr of answer) w.rr(rr);
  for (const rr of additional) w.rr(rr);
  return {
    wire: w.finish(),
    qnameEnd,
    questionEnd,
    ttlOffsets: new Uint32Array(0),
    ttls: new Uint32Array(0),
  };
}

function replyFlags(view: QueryView, rcode: number, authoritative: boolean): number {
  return (
    FLAG_QR |
    (view.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) |
    (authoritative ? FLAG_AA : 0) |
    FLAG_RA |
    (rcode & 0xf)
  );
}

function writeOpt(out: Buffer, at: number, dnssecOk: boolean): void {
  out[at] = 0;
  out.writeUInt16BE(TYPE.OPT, at + 1);
  out.writeUInt16BE(ADVERTISED_UDP_SIZE, at + 3);
  out.writeUInt32BE(dnssecOk ? EDNS_DO : 0, at + 5);
  out.writeUInt16BE(0, at + 9);
}

export interface SoaParams {
  /** Offset of the zone's first label within the question (view.qnameEnd - zone wire length). */
  zoneOffset: number;
  serial: number;
  /** SOA record TTL (CoreDNS: min(ttl, 300)) and MINIMUM (ttl). */
  soaTtl: number;
  minimum: number;
}

/**
 * NXDOMAIN or NODATA: the client's question and the zone SOA in Authority, every name in the SOA
 * compressed onto the zone as spelled in the question. Built by hand: this is a hot path.
 */
export function negativeReply(view: QueryView, rcode: number, soa: SoaParams): Buffer {
  const qEnd = view.questionEnd;
  const size = qEnd + NEGATIVE_TAIL + (view.hasOpt ? OPT_RECORD_LENGTH : 0);
  const out = Buffer.allocUnsafe(size);
  view.buf.copy(out, 0, 0, qEnd);
  out.writeUInt16BE(replyFlags(view, rcode, true), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(1, 8);
  out.writeUInt16BE(view.hasOpt ? 1 : 0, 10);
  const pointer = 0xc000 | soa.zoneOffset;
  let i = qEnd;
  out.writeUInt16BE(pointer, i);
  out.writeUInt16BE(TYPE.SOA, i + 2);
  out.writeUInt16BE(1, i + 4);
  out.writeUInt32BE(soa.soaTtl, i + 6);
  out.writeUInt16BE(42, i + 10);
  i += 12;
  i += out.write("\x02ns\x03dns", i, "latin1");
  out.writeUInt16BE(pointer, i);
  i += 2;
  i += out.write("\x0ahostmaster", i, "latin1");
  out.writeUInt16BE(pointer, i);
  i += 2;
  out.writeUInt32BE(soa.serial >>> 0, i);
  out.writeUInt32BE(SOA_REFRESH, i + 4);
  out.writeUInt32BE(SOA_RETRY, i + 8);
  out.writeUInt32BE(SOA_EXPIRE, i + 12);
  out.writeUInt32BE(soa.minimum, i + 16);
  if (view.hasOpt) writeOpt(out, i + 20, view.dnssecOk);
  return out;
}

/** The SOA record itself, for an SOA query at the apex. */
export function soaRecord(zone: string, soa: SoaParams): Rr {
  return {
    name: zone,
    ttl: soa.soaTtl,
    data: {
      type: TYPE.SOA,
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: soa.serial,
      refresh: SOA_REFRESH,
      retry: SOA_RETRY,
      expire: SOA_EXPIRE,
      minimum: soa.minimum,
    },
  };
}

/**
 * A reply composed for this query: the client's ID, flags and question bytes; records whose owner
 * equals the question name compress onto it and so carry the client's spelling.
 */
export function composeReply(
  view: QueryView,
  rcode: number,
  answer: Rr[],
  authority: Rr[],
  additional: Rr[],
  authoritative = true,
  flagsFrom = -1,
): Buffer {
  const w = new WireWriter(512);
  w.u16(view.id);
  let flags = replyFlags(view, rcode, authoritative);
  if (flagsFrom >= 0) flags = (flags & ~0x00a0) | (flagsFrom & 0x00a0); // RA and AD from the source
  w.u16(flags);
  w.u16(1);
  w.u16(answer.length);
  w.u16(authority.length);
  w.u16(additional.length + (view.hasOpt ? 1 : 0));
  w.bytes(view.buf.subarray(HEADER_LENGTH, view.questionEnd));
  w.registerAt(HEADER_LENGTH);
  for (const rr of answer) w.rr(rr);
  for (const rr of authority) w.rr(rr);
  for (const rr of additional) w.rr(rr);
  if (view.hasOpt) {
    w.u8(0);
    w.u16(TYPE.OPT);
    w.u16(ADVERTISED_UDP_SIZE);
    w.u32(view.dnssecOk ? EDNS_DO : 0);
    w.u16(0);
  }
  return w.finish();
}
