// A minimal UDP DNS client for the bench's checks (answers of the cluster index, the burst's sentinel).

import { createSocket } from "node:dgram";
import type { RecordType } from "dns-packet";
import dnsPacket from "dns-packet";

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export interface Answer {
  rcode: string;
  aa: boolean;
  /** Every answer record's data as text (A/AAAA addresses, SRV "prio weight port target", ...). */
  data: string[];
  additional: number;
}

/** One query over UDP; null when nothing came back within timeoutMs. */
export function ask(
  host: string,
  port: number,
  name: string,
  type: RecordType = "A",
  timeoutMs = 500,
): Promise<Answer | null> {
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    const id = Math.floor(Math.random() * 65536);
    const done = (a: Answer | null) => {
      clearTimeout(timer);
      sock.close();
      resolve(a);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("error", () => done(null));
    sock.on("message", (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        if (p.id !== id) return;
        const data = (p.answers ?? []).map((r) => {
          const d = (r as { data?: unknown }).data;
          if (typeof d === "string") return d;
          if (d !== null && typeof d === "object" && "target" in d) {
            const srv = d as { priority: number; weight: number; port: number; target: string };
            return `${srv.priority} ${srv.weight} ${srv.port} ${srv.target}`;
          }
          return JSON.stringify(d);
        });
        done({
          rcode: RCODES[msg[3]! & 0x0f] ?? "?",
          aa: ((p.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
          data,
          additional: (p.additionals ?? []).length,
        });
      } catch {
        done(null);
      }
    });
    const q = dnsPacket.encode({
      type: "query",
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: "IN" }],
    });
    sock.send(q, port, host);
  });
}
