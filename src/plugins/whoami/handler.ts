// The whoami handler: the client's address (A or AAAA) and its transport and source port (SRV
// `_udp.NAME`/`_tcp.NAME`, target ".") in the additional section, as CoreDNS's whoami.

import { isIP } from "node:net";
import { RCODE } from "../../dns/index.ts";
import type { Handler, Next, Query } from "../../server/index.ts";
import { answer, type DnsRecord, questionName } from "../reply.ts";

const CLASS_NAMES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 255: "ANY" };

/** The client's address as it should be printed: IPv4-mapped IPv6 sources are IPv4 clients. */
function clientAddress(query: Query): { ip: string; v4: boolean } {
  const ip = query.remoteAddress.startsWith("::ffff:") ? query.remoteAddress.slice(7) : query.remoteAddress;
  return { ip, v4: isIP(ip) === 4 };
}

export class WhoamiPlugin implements Handler {
  readonly name = "whoami" as const;

  handle(query: Query, _next: Next): void {
    const name = questionName(query);
    const owner = name === "." ? "." : name.slice(0, -1);
    const cls = (CLASS_NAMES[query.qclass] ?? "IN") as "IN";
    const { ip, v4 } = clientAddress(query);
    const proto = query.transport.proto;
    const address = { name: owner, type: v4 ? "A" : "AAAA", class: cls, ttl: 0, data: ip } as DnsRecord;
    const srv = {
      name: name === "." ? `_${proto}` : `_${proto}.${owner}`,
      type: "SRV",
      class: cls,
      ttl: 0,
      data: { priority: 0, weight: 0, port: query.remotePort, target: "." },
    } as DnsRecord;
    // The answer belongs to this client alone: a cache before us must not hand it to another.
    query.noStore = true;
    answer(query, "whoami", RCODE.NOERROR, { additional: [address, srv] });
  }
}
