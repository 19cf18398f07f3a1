// The rewrite handler: a matching query goes down the chain as a new query with the rewritten
// question; its reply comes back with the client's question restored and the response rewriters
// applied to every section. A query no rule matches passes on untouched.

import * as packet from "dns-packet";
import { errorReply, HEADER_LENGTH, nameToWire, PARSE_OK, parseQuery, RCODE } from "../../dns/index.ts";
import { deliver, type Handler, type Next, Query, type Transport } from "../../server/index.ts";
import { questionName } from "../reply.ts";
import type { RewriteRule } from "./parse.ts";
import {
  type CompiledRule,
  compile,
  type Question,
  type ResponseRewriter,
  rewriteQuestion,
} from "./rules.ts";

export class RewritePlugin implements Handler {
  readonly name = "rewrite" as const;
  private readonly rules: CompiledRule[];
  private readonly onError: (error: unknown) => void;

  constructor(rules: readonly RewriteRule[], onError: (error: unknown) => void) {
    this.rules = rules.map(compile);
    this.onError = onError;
  }

  handle(query: Query, next: Next): void {
    const asked: Question = { name: questionName(query), type: query.qtype, class: query.qclass };
    const result = rewriteQuestion(this.rules, asked);
    if (result === null) {
      next(query);
      return;
    }
    const inner = innerQuery(query, result.question, (reply) => this.revert(query, reply, result.response));
    if (inner === null) {
      // CoreDNS: "invalid name after rewrite" is a SERVFAIL.
      query.plugin = "rewrite";
      deliver(query, errorReply(query, RCODE.SERVFAIL));
      return;
    }
    next(inner);
  }

  /** The downstream reply for the rewritten question -> the client's reply. */
  private revert(query: Query, reply: Buffer, rewriters: readonly ResponseRewriter[]): void {
    try {
      deliver(query, restore(query, reply, rewriters));
    } catch (error) {
      this.onError(error);
      query.sendFailure(() => errorReply(query, RCODE.SERVFAIL));
    }
  }
}

/**
 * The query with `question` in place of the client's: same ID, flags and additional section (OPT).
 * Its answer goes to `done` whichever way it is sent (cache hit, flight, plugin reply). null when the
 * rewritten name is not a valid domain name.
 */
function innerQuery(query: Query, question: Question, done: (reply: Buffer) => void): Query | null {
  let nameWire: Buffer;
  try {
    nameWire = nameToWire(question.name);
  } catch {
    return null;
  }
  const buf = Buffer.allocUnsafe(
    query.buf.length - (query.questionEnd - HEADER_LENGTH) + nameWire.length + 4,
  );
  query.buf.copy(buf, 0, 0, HEADER_LENGTH);
  nameWire.copy(buf, HEADER_LENGTH);
  let at = HEADER_LENGTH + nameWire.length;
  buf.writeUInt16BE(question.type, at);
  buf.writeUInt16BE(question.class, at + 2);
  at += 4;
  query.buf.copy(buf, at, query.questionEnd);
  const transport: Transport = {
    proto: query.transport.proto,
    server: query.transport.server,
    send: (innerQuery, reply) => {
      query.plugin = innerQuery.plugin;
      done(reply);
    },
  };
  const inner = new Query(transport, query.remoteAddress, query.remotePort, query.family);
  if (parseQuery(buf, inner) !== PARSE_OK) return null;
  inner.startedAt = query.startedAt;
  // bufsize (earlier in the chain) may have lowered what we advertise upstream; keep it.
  inner.upstreamUdpSize = query.upstreamUdpSize;
  return inner;
}

const DNS_NAME_VALUE_TYPES = new Set(["CNAME", "DNAME", "NS", "PTR"]);

/** Restore the client's question; rewrite owner names and values as the rules say (last rule first). */
export function restore(query: Query, reply: Buffer, rewriters: readonly ResponseRewriter[]): Buffer {
  const msg = packet.decode(reply);
  const name = questionName(query);
  msg.questions = [{ name: bare(name), type: "A", class: "IN" }];
  const sections = [msg.answers ?? [], msg.authorities ?? [], msg.additionals ?? []];
  for (const section of sections) {
    for (const rr of section) {
      if (rr.type === "OPT") continue;
      for (let i = rewriters.length - 1; i >= 0; i--) rewriteRecord(rr, rewriters[i]!);
    }
  }
  msg.additionals = (msg.additionals ?? []).filter((rr) => rr.type !== "OPT");
  const out = packet.encode(msg);
  // The question as the client sent it (type and class too), byte for byte.
  const question = query.buf.subarray(HEADER_LENGTH, query.questionEnd);
  const encodedQuestionEnd = HEADER_LENGTH + nameToWire(name).length + 4;
  return Buffer.concat([out.subarray(0, HEADER_LENGTH), question, out.subarray(encodedQuestionEnd)]);
}

function rewriteRecord(rr: packet.Answer, rewriter: ResponseRewriter): void {
  const apply = (n: string) => bare(rewriter.rewrite(fqdn(n)));
  if (rewriter.field === "name") {
    rr.name = apply(rr.name);
    return;
  }
  const record = rr as { type: string; data: unknown };
  if (DNS_NAME_VALUE_TYPES.has(record.type) && typeof record.data === "string")
    record.data = apply(record.data);
  else if (record.type === "SRV")
    (record.data as { target: string }).target = apply((record.data as { target: string }).target);
  else if (record.type === "MX")
    (record.data as { exchange: string }).exchange = apply((record.data as { exchange: string }).exchange);
  else if (record.type === "SOA")
    (record.data as { mname: string }).mname = apply((record.data as { mname: string }).mname);
  else if (record.type === "NAPTR") {
    const d = record.data as { replacement: string };
    d.replacement = apply(d.replacement);
  }
}

function fqdn(name: string): string {
  return name === "" || name === "." ? "." : name.endsWith(".") ? name : `${name}.`;
}

function bare(name: string): string {
  return name === "." ? "." : name.replace(/\.$/, "");
}
