// Replies the plugins build (hosts, template): records encoded with dns-packet — these answers are not
// the cache-hit path, and the cache stores them like any downstream reply — behind the query's own
// question bytes, then handed to `deliver`, which writes the client's ID and OPT and truncates for UDP.

import * as packet from "dns-packet";
import { FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, HEADER_LENGTH, wireToName } from "../dns/index.ts";
import { deliver, type Query } from "../server/index.ts";

export type DnsRecord = packet.Answer;

export interface Sections {
  answer?: readonly DnsRecord[];
  authority?: readonly DnsRecord[];
  additional?: readonly DnsRecord[];
}

/** The question name of `query` in presentation form (lowercase, trailing dot). */
export function questionName(query: Query): string {
  return wireToName(query.buf, HEADER_LENGTH, query.qnameEnd);
}

/** The wire reply to `query` with these sections (dns-packet writes names uncompressed). */
export function buildReply(query: Query, rcode: number, sections: Sections, authoritative: boolean): Buffer {
  const flags =
    FLAG_QR | (query.flags & (FLAG_RD | FLAG_CD)) | FLAG_RA | (authoritative ? FLAG_AA : 0) | (rcode & 0xf);
  const body = packet.encode({
    id: query.id,
    type: "response",
    flags,
    questions: [],
    answers: [...(sections.answer ?? [])],
    authorities: [...(sections.authority ?? [])],
    additionals: [...(sections.additional ?? [])],
  });
  const question = query.buf.subarray(HEADER_LENGTH, query.questionEnd);
  const out = Buffer.concat([body.subarray(0, HEADER_LENGTH), question, body.subarray(HEADER_LENGTH)]);
  out.writeUInt16BE(1, 4);
  return out;
}

/** Build the reply and send it up the chain's reply path (through the cache when one waits). */
export function answer(query: Query, plugin: string, rcode: number, sections: Sections, aa = true): void {
  query.plugin = plugin;
  deliver(query, buildReply(query, rcode, sections, aa));
}
