// First in the chain: counts the request and arranges for the response to be counted (with
// `prometheus`) and logged (with `log`).

import { familyOf } from "../metrics/index.ts";
import { type Handler, type Next, pluginIndex } from "./chain.ts";
import type { Query, ReplyObserver } from "./query.ts";

export type Clock = () => number;

/** Sees every answered query of a block: the reply and how long it took. */
export type RepliedHook = (query: Query, reply: Buffer, seconds: number) => void;

export class MetricsPlugin implements Handler, ReplyObserver {
  readonly name = "metrics" as const;
  private readonly clock: Clock;
  private readonly onReplied: RepliedHook | null;
  private readonly counting: boolean;

  /**
   * `clock` returns high-resolution milliseconds (performance.now). `counting` is false for a block
   * with `log` but no `prometheus`: its queries are logged, not counted.
   */
  constructor(clock: Clock, onReplied: RepliedHook | null, counting = true) {
    this.clock = clock;
    this.onReplied = onReplied;
    this.counting = counting;
  }

  handle(query: Query, next: Next): void {
    if (this.counting) {
      query.zoneMetrics?.request(
        query.qtype,
        query.transport.proto === "tcp",
        familyOf(query.family, query.remoteAddress),
        query.buf.length,
        query.dnssecOk,
      );
    }
    query.observer = this;
    next(query);
  }

  replied(query: Query, reply: Buffer): void {
    const seconds = (this.clock() - query.startedAt) / 1000;
    if (this.counting) {
      const plugin = query.plugin;
      query.zoneMetrics?.response(
        reply[3]! & 0x0f,
        plugin,
        pluginIndex(plugin),
        query.transport.proto === "tcp",
        reply.length,
        seconds,
      );
    }
    this.onReplied?.(query, reply, seconds);
  }
}
