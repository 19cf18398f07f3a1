// Replies the plugins build (hosts, template): records encoded with dns-packet — these answers are not
// the cache-hit path, and the cache stores them like any downstream reply — behind the query's own
// question bytes, then handed to `deliver`, which writes the client's ID and OPT and truncates for UDP.

import * as packet from "dns-packet";
import {
  equalsIgnoreCase,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  HEADER_LENGTH,
  skipName,
  wireToName,
} from "../dns/index.ts";
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

/**
 * The wire reply to `query` with these sections. Owner names equal to the question's become pointers
 * to it, so they carry each client's spelling, also when the cache replays the reply to another
 * client (0x20 case randomisation survives).
 */
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
  const parts: Buffer[] = [body.subarray(0, HEADER_LENGTH), question];
  // dns-packet writes every name in full: point the owners equal to the question at it instead.
  const nameLength = query.qnameEnd - HEADER_LENGTH;
  let at = HEADER_LENGTH;
  for (let i = 0; i < body.readUInt16BE(6) + body.readUInt16BE(8) + body.readUInt16BE(10); i++) {
    const ownerEnd = skipName(body, at);
    if (ownerEnd - at === nameLength && equalsIgnoreCase(body, at, query.buf, HEADER_LENGTH, nameLength))
      parts.push(POINTER_TO_QUESTION);
    else parts.push(body.subarray(at, ownerEnd));
    const next = ownerEnd + 10 + body.readUInt16BE(ownerEnd + 8);
    parts.push(body.subarray(ownerEnd, next));
    at = next;
  }
  const out = Buffer.concat(parts);
  out.writeUInt16BE(1, 4);
  return out;
}

const POINTER_TO_QUESTION = Buffer.from([0xc0, HEADER_LENGTH]);

/** Build the reply and send it up the chain's reply path (through the cache when one waits). */
export function answer(query: Query, plugin: string, rcode: number, sections: Sections, aa = true): void {
  query.plugin = plugin;
  deliver(query, buildReply(query, rcode, sections, aa));
}
