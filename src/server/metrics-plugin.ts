// First in the chain: counts the request and arranges for the response to be counted.

import { type Handler, type Next, pluginIndex } from "./chain.ts";
import type { Query, ReplyObserver } from "./query.ts";

export type Clock = () => number;

export class MetricsPlugin implements Handler, ReplyObserver {
  readonly name = "metrics" as const;
  private readonly clock: Clock;
  private readonly onReplied: ((query: Query, reply: Buffer) => void) | null;

  /** `clock` returns high-resolution milliseconds (performance.now). */
  constructor(clock: Clock, onReplied: ((q: Query, r: Buffer) => void) | null) {
    this.clock = clock;
    this.onReplied = onReplied;
  }

  handle(query: Query, next: Next): void {
    query.zoneMetrics?.request(query.qtype, query.transport.proto === "tcp", query.family, query.buf.length);
    query.observer = this;
    next(query);
  }

  replied(query: Query, reply: Buffer): void {
    const seconds = (this.clock() - query.startedAt) / 1000;
    const plugin = query.plugin;
    query.zoneMetrics?.response(
      query.qtype,
      reply[3]! & 0x0f,
      plugin,
      pluginIndex(plugin),
      query.transport.proto === "tcp",
      reply.length,
      seconds,
    );
    this.onReplied?.(query, reply);
  }
}
