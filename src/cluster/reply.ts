// Reply construction for cluster answers other than the hot ones (answer.ts): negative answers with
// the zone's SOA, and replies composed per query (SOA, TXT, CNAME, pods, autopath).

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
  TYPE,
  writeOpt,
} from "../dns/index.ts";
import { type Rr, WireWriter } from "./wire.ts";

export const SOA_REFRESH = 7200;
export const SOA_RETRY = 1800;
export const SOA_EXPIRE = 86400;
const NEGATIVE_TAIL = 54;

/** Reply flags for a query: QR, its opcode, RD and CD, AA when ours, RA, and the rcode. */
export function replyFlags(view: QueryView, rcode: number, authoritative: boolean): number {
  return (
    FLAG_QR |
    (view.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) |
    (authoritative ? FLAG_AA : 0) |
    FLAG_RA |
    (rcode & 0xf)
  );
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
