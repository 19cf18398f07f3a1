// A reply as operators read it: its rcode and its answer records in zone-file form. Only for the
// `explain` view, never on the query path: dns-packet is loaded on the first explain, not at start.

import { createRequire } from "node:module";
import type dnsPacket from "dns-packet";
import { canonicalName, rcodeName } from "../dns/index.ts";

let decoder: typeof dnsPacket | undefined;
const packets = () => (decoder ??= createRequire(import.meta.url)("dns-packet") as typeof dnsPacket);

export interface ReadReply {
  rcode: string;
  /** "owner. TTL TYPE data", in answer-section order. */
  answers: string[];
  /** Lowest TTL of the answers (or of the SOA in authority for a negative reply); null if none. */
  ttl: number | null;
  /** The first answer when it is a CNAME: [owner, target] (lowercase, trailing dot). */
  cname: [string, string] | null;
}

function rdata(record: dnsPacket.Answer): string {
  const data = (record as { data?: unknown }).data;
  switch (record.type) {
    case "CNAME":
    case "PTR":
    case "NS":
    case "DNAME":
      return canonicalName(String(data));
    case "SRV": {
      const d = data as dnsPacket.SrvData;
      return `${d.priority ?? 0} ${d.weight ?? 0} ${d.port} ${canonicalName(d.target)}`;
    }
    case "MX": {
      const d = data as { preference: number; exchange: string };
      return `${d.preference} ${canonicalName(d.exchange)}`;
    }
    case "TXT":
      return ([] as unknown[])
        .concat(data)
        .map((t) => JSON.stringify(Buffer.isBuffer(t) ? t.toString("latin1") : String(t)))
        .join(" ");
    case "SOA": {
      const d = data as dnsPacket.SoaData;
      return `${canonicalName(d.mname)} ${canonicalName(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    default:
      return Buffer.isBuffer(data) ? `\\# ${data.length} ${data.toString("hex")}` : String(data);
  }
}

export function readReply(reply: Buffer): ReadReply {
  const rcode = rcodeName(reply.length >= 4 ? reply[3]! & 0x0f : 2);
  let packet: dnsPacket.Packet;
  try {
    packet = packets().decode(reply);
  } catch {
    return { rcode, answers: [], ttl: null, cname: null };
  }
  const answers = (packet.answers ?? []).filter((a) => a.type !== "OPT");
  const soa = (packet.authorities ?? []).find((a) => a.type === "SOA");
  const ttls = answers.length > 0 ? answers.map((a) => a.ttl ?? 0) : soa ? [soa.ttl ?? 0] : [];
  const first = answers[0];
  return {
    rcode,
    answers: answers.map((a) => `${canonicalName(a.name)} ${a.ttl ?? 0} ${a.type} ${rdata(a)}`),
    ttl: ttls.length > 0 ? Math.min(...ttls) : null,
    cname: first?.type === "CNAME" ? [canonicalName(first.name), canonicalName(String(first.data))] : null,
  };
}
