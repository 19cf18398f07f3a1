// The dns64 handler (RFC 6147, CoreDNS semantics): an AAAA question whose answer has no AAAA (or
// every AAAA question with translate_all) is answered with AAAA records synthesized from the name's
// A records; PTR questions for the prefix's ip6.arpa names get a CNAME to the IPv4 reverse name
// (RFC 6147 5.3.1) followed by its answer. Both lookups go through the rest of the chain (the cache
// included) as inner queries.

import * as packet from "dns-packet";
import { errorReply, FLAG_TC, nameToWire, PARSE_OK, parseQuery, RCODE, TYPE } from "../../dns/index.ts";
import { familyOf } from "../../metrics/index.ts";
import { deliver, type Handler, type Next, Query } from "../../server/index.ts";
import { buildReply, type DnsRecord, questionName } from "../reply.ts";
import type { Dns64Config } from "./parse.ts";
import { reverseTarget, synthesize } from "./translate.ts";

type Capture = (reply: Buffer) => void;

/** Transports of inner queries: the reply goes to the callback kept in `connection`. */
const captures = {
  udp: { proto: "udp", server: "", send: (q: Query, reply: Buffer) => (q.connection as Capture)(reply) },
  tcp: { proto: "tcp", server: "", send: (q: Query, reply: Buffer) => (q.connection as Capture)(reply) },
} as const;

/** A copy of `query`'s message asking `qtype` (and `nameWire` when given), its EDNS and flags kept. */
function innerMessage(query: Query, qtype: number, nameWire: Buffer | null): Buffer {
  const question = query.buf.subarray(12, query.qnameEnd);
  const name = nameWire ?? question;
  const rest = query.buf.subarray(query.qnameEnd);
  const out = Buffer.concat([query.buf.subarray(0, 12), name, rest]);
  out.writeUInt16BE(qtype, 12 + name.length);
  return out;
}

export class Dns64Plugin implements Handler {
  readonly name = "dns64" as const;
  private readonly config: Dns64Config;
  private readonly translated: () => void;

  constructor(config: Dns64Config, translated: () => void) {
    this.config = config;
    this.translated = translated;
  }

  handle(query: Query, next: Next): void {
    if (query.qclass !== 1) {
      next(query);
      return;
    }
    if (query.qtype === TYPE.PTR) {
      const target = reverseTarget(this.config.prefix, this.config.prefixLength, questionName(query));
      if (target !== null) {
        this.reverse(query, next, target);
        return;
      }
    }
    // CoreDNS: IPv6 clients only unless allow_ipv4 (dual-stack networks would get needless NAT64).
    if (
      query.qtype !== TYPE.AAAA ||
      (!this.config.allowIpv4 && familyOf(query.family, query.remoteAddress) !== 2)
    ) {
      next(query);
      return;
    }
    this.lookup(query, next, TYPE.AAAA, null, (aaaa) => {
      if (!this.needsSynthesis(aaaa)) {
        deliver(query, aaaa);
        return;
      }
      this.lookup(query, next, TYPE.A, null, (a) => {
        this.translated();
        query.plugin = "dns64";
        deliver(query, this.synthesized(query, aaaa, a));
      });
    });
  }

  /** Run `qtype` for the query's name (or `nameWire`) through the rest of the chain. */
  private lookup(query: Query, next: Next, qtype: number, nameWire: Buffer | null, done: Capture): void {
    const inner = new Query(
      captures[query.transport.proto],
      query.remoteAddress,
      query.remotePort,
      query.family,
    );
    if (parseQuery(innerMessage(query, qtype, nameWire), inner) !== PARSE_OK) {
      deliver(query, buildReply(query, RCODE.SERVFAIL, {}, false));
      return;
    }
    inner.startedAt = query.startedAt;
    inner.upstreamUdpSize = query.upstreamUdpSize;
    inner.connection = (reply: Buffer) => {
      query.plugin = inner.plugin;
      try {
        done(reply);
      } catch {
        // A reply dns-packet cannot re-encode: the client still gets an answer.
        query.sendFailure(() => errorReply(query, RCODE.SERVFAIL));
      }
    };
    next(inner);
  }

  /** RFC 6147 5.1.1/5.1.2: not for NXDOMAIN; always with translate_all; else when no AAAA came back. */
  private needsSynthesis(reply: Buffer): boolean {
    const rcode = reply.length >= 4 ? reply[3]! & 0xf : RCODE.SERVFAIL;
    if (rcode === RCODE.NXDOMAIN) return false;
    if (this.config.translateAll) return true;
    if (rcode !== RCODE.NOERROR) return true;
    const answers = safeDecode(reply)?.answers ?? [];
    return !answers.some((rr) => rr.type === "AAAA");
  }

  /** CoreDNS's Synthesize: A -> AAAA with TTL min(A TTL, SOA TTL of the AAAA reply or 600). */
  private synthesized(query: Query, aaaaReply: Buffer, aReply: Buffer): Buffer {
    const aaaa = safeDecode(aaaaReply);
    const a = safeDecode(aReply);
    if (a === null) return buildReply(query, RCODE.SERVFAIL, {}, false);
    const soa = (aaaa?.authorities ?? []).find((rr) => rr.type === "SOA");
    const cap = soa?.ttl ?? 600;
    const answer = (a.answers ?? []).map((rr): DnsRecord => {
      if (rr.type !== "A") return rr;
      const data = synthesize(this.config.prefix, this.config.prefixLength, rr.data);
      return { name: rr.name, type: "AAAA", class: rr.class, ttl: Math.min(rr.ttl ?? 0, cap), data };
    });
    const extra = (a.additionals ?? []).filter((rr) => rr.type !== "OPT");
    const out = buildReply(
      query,
      aReply[3]! & 0xf,
      { answer, authority: a.authorities ?? [], additional: extra },
      false,
    );
    if ((aReply.readUInt16BE(2) & FLAG_TC) !== 0) out[2]! |= FLAG_TC >> 8;
    return out;
  }

  /** PTR in the prefix's ip6.arpa: CNAME to the in-addr.arpa name, then that name's PTR answer. */
  private reverse(query: Query, next: Next, target: string): void {
    this.lookup(query, next, TYPE.PTR, nameToWire(target), (reply) => {
      const decoded = safeDecode(reply);
      const owner = questionName(query).slice(0, -1);
      const cname: DnsRecord = {
        name: owner,
        type: "CNAME",
        class: "IN",
        ttl: 600,
        data: target.slice(0, -1),
      };
      const rcode = decoded === null ? RCODE.SERVFAIL : reply[3]! & 0xf;
      const answer = [cname, ...(decoded?.answers ?? [])];
      query.plugin = "dns64";
      deliver(query, buildReply(query, rcode, { answer, authority: decoded?.authorities ?? [] }, false));
    });
  }
}

function safeDecode(reply: Buffer): packet.Packet | null {
  try {
    return packet.decode(reply);
  } catch {
    return null;
  }
}
