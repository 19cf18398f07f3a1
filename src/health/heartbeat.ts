// The kernel's view of our liveness. The conditional NOTRACK (src/netif/rules.ts) captures a local
// IP's traffic only while an answer left L:dns within ALIVE_SECONDS; every answer refreshes that.
// On a quiet node the heartbeat makes sure there is one: a query for a health control name (answered
// at once by the dispatcher, never the chain) to each local IP every interval. A process that is
// stopped (SIGSTOP) or wedged stops answering, so within ALIVE_SECONDS its pods go to kube-dns.

import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { buildQuery, nameToWire, TYPE } from "../dns/index.ts";

export interface HeartbeatOptions {
  /** Local IPs and the DNS port. */
  targets: { host: string; port: number }[];
  /** A health control name (`h<token>.nodelocaldns.invalid.`). */
  name: string;
  intervalMs: number;
}

export class Heartbeat {
  private readonly options: HeartbeatOptions;
  private readonly query: Buffer;
  private sockets = new Map<4 | 6, dgram.Socket>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: HeartbeatOptions) {
    this.options = options;
    this.query = buildQuery(0, nameToWire(options.name), TYPE.A, false);
  }

  start(): void {
    if (this.timer !== null) return;
    for (const family of [4, 6] as const) {
      if (!this.options.targets.some((t) => (isIPv6(t.host) ? 6 : 4) === family)) continue;
      const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
      socket.on("error", () => {}); // no route yet, ICMP errors: the next beat tries again
      socket.on("message", () => {}); // the answer itself is the beat; read it to keep the queue empty
      socket.unref();
      this.sockets.set(family, socket);
    }
    const beat = () => {
      for (const t of this.options.targets) {
        this.sockets.get(isIPv6(t.host) ? 6 : 4)?.send(this.query, t.port, t.host);
      }
    };
    this.timer = setInterval(beat, this.options.intervalMs);
    this.timer.unref();
    beat();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
