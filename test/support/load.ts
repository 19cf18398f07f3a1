// A bounded UDP load for loss tests: a fixed rate over many source ports, every query tracked until
// answered; stops by itself after `durationMs` (or at stop()) plus a grace period for late answers.
// With `maxInFlight`, sending waits while that many queries are unanswered: on a busy machine the
// rate drops instead of overflowing the kernel's socket queues, so a loss is the daemon's doing.

import dgram from "node:dgram";
import { encodeQuery } from "./client.ts";
import { assertLoopback } from "./ports.ts";

export interface LoadOptions {
  host: string;
  port: number;
  qps: number;
  durationMs: number;
  /** Source sockets (ports) used round robin; many spread over SO_REUSEPORT groups. */
  sockets?: number;
  /** The name of the i-th query. */
  name: (i: number) => string;
  graceMs?: number;
  /** At most this many unanswered queries at once (default: no limit, a fixed rate). */
  maxInFlight?: number;
}

export interface LoadResult {
  sent: number;
  answered: number;
  lost: number;
  rcodes: Record<string, number>;
  /** IDs (socket:id) never answered, at most 20, for messages. */
  missing: string[];
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export interface Load {
  /** Resolves when the run and its grace period are over. */
  done: Promise<LoadResult>;
  sentSoFar(): number;
  /** Stops sending now (before `durationMs`); `done` resolves after the grace period. */
  stop(): void;
}

export function startLoad(o: LoadOptions): Load {
  assertLoopback(o.host);
  const count = o.sockets ?? 32;
  const sockets: dgram.Socket[] = [];
  const outstanding = new Map<string, number>();
  const rcodes: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  for (let i = 0; i < count; i++) {
    const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 1 << 20 });
    socket.on("error", () => {});
    socket.on("message", (msg) => {
      const key = `${i}:${msg.readUInt16BE(0)}`;
      if (!outstanding.delete(key)) return;
      answered++;
      const name = RCODES[msg[3]! & 0x0f] ?? "OTHER";
      rcodes[name] = (rcodes[name] ?? 0) + 1;
    });
    socket.bind(0, "127.0.0.1");
    sockets.push(socket);
  }
  const started = Date.now();
  let stopAt = started + o.durationMs;
  const maxInFlight = o.maxInFlight ?? Number.POSITIVE_INFINITY;
  const ids = new Array<number>(count).fill(0);
  const done = new Promise<LoadResult>((resolve) => {
    const tick = setInterval(() => {
      const now = Date.now();
      const due = Math.floor(((Math.min(now, stopAt) - started) * o.qps) / 1000);
      while (sent < due && outstanding.size < maxInFlight) {
        const s = sent % count;
        const id = ids[s]!;
        ids[s] = (id + 1) & 0xffff;
        outstanding.set(`${s}:${id}`, sent);
        sockets[s]!.send(encodeQuery(o.name(sent), "A", { id }), o.port, o.host);
        sent++;
      }
      if (now >= stopAt) {
        clearInterval(tick);
        setTimeout(() => {
          for (const socket of sockets) socket.close();
          resolve({
            sent,
            answered,
            lost: outstanding.size,
            rcodes,
            missing: [...outstanding.keys()].slice(0, 20),
          });
        }, o.graceMs ?? 2000);
      }
    }, 5);
  });
  return {
    done,
    sentSoFar: () => sent,
    stop: () => {
      stopAt = Math.min(stopAt, Date.now());
    },
  };
}
