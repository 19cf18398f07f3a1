// The `loop` plugin. At start (and on every reload, which builds a new handler) each zone of the block
// sends `<random>.<random>.<zone>. HINFO` to the block's own listener. A probe-shaped name that reaches
// this block more than twice means the block's forwarding comes back to it: the block then answers
// SERVFAIL instead of spinning (CoreDNS exits instead), and re-probes now and then to notice the fix.
// Probe-shaped queries skip the cache: coalescing identical misses would swallow the loop's later laps.

import type { ServerBlock } from "../config/types.ts";
import { errorReply, RCODE, TYPE, wireToName } from "../dns/index.ts";
import { deliver, type Handler, type Next, type Query } from "../server/index.ts";
import { isProbeShaped, probeName, sendProbe } from "./probe.ts";

export interface LoopEvents {
  /** A loop was found (once per detection): log it and count it. */
  detected(info: LoopInfo): void;
  /** The loop went away (a later probe came back without looping). */
  cleared(zone: string): void;
  /** A probe round gave up without a conclusion (no answer within the deadline). */
  inconclusive(zone: string): void;
}

export interface LoopInfo {
  zone: string;
  name: string;
  /** Who sent the third copy to us, and where it arrived. */
  from: string;
  upstreams: string[];
}

export interface LoopTimings {
  /** Give up probing after this long (CoreDNS: 30 s). */
  deadlineMs: number;
  /** Wait between attempts when a probe got no conclusive answer (CoreDNS: 1 s). */
  retryMs: number;
  /** While looping, re-probe this often to notice the loop is gone. */
  recheckMs: number;
  /** One probe's answer timeout. */
  timeoutMs: number;
}

export const LOOP_TIMINGS: LoopTimings = {
  deadlineMs: 30_000,
  retryMs: 1000,
  recheckMs: 30_000,
  timeoutMs: 5000,
};

const SEEN_LIMIT = 256;

export class LoopHandler implements Handler {
  readonly name = "loop" as const;
  private readonly block: ServerBlock;
  private readonly bypass: Next | null;
  private readonly events: LoopEvents;
  private readonly timings: LoopTimings;
  /** Probe-shaped names seen here and how often. */
  private readonly seen = new Map<string, number>();
  private loopingZones = new Set<string>();
  private closed = false;
  private started = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Where start() is told to send probes (set by whoever builds the handler). */
  probeTarget: { host: string; port: number } = { host: "127.0.0.1", port: 53 };

  /** `bypass` runs the block's chain after the cache (kubernetes, forward); null = use `next`. */
  constructor(
    block: ServerBlock,
    bypass: Next | null,
    events: LoopEvents,
    timings: LoopTimings = LOOP_TIMINGS,
  ) {
    this.block = block;
    this.bypass = bypass;
    this.events = events;
    this.timings = timings;
  }

  get looping(): boolean {
    return this.loopingZones.size > 0;
  }

  handle(query: Query, next: Next): void {
    if (query.qtype === TYPE.HINFO) {
      const name = wireToName(query.buf, 12, query.qnameEnd);
      if (isProbeShaped(name)) {
        this.probeQuery(query, name, next);
        return;
      }
    }
    if (this.loopingZones.size > 0) {
      query.plugin = "loop";
      deliver(query, errorReply(query, RCODE.SERVFAIL));
      return;
    }
    next(query);
  }

  private probeQuery(query: Query, name: string, next: Next): void {
    const count = (this.seen.get(name) ?? 0) + 1;
    if (this.seen.size >= SEEN_LIMIT && !this.seen.has(name))
      this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(name, count);
    if (count > 2) {
      const zone = this.zoneOf(name);
      if (!this.loopingZones.has(zone)) {
        this.loopingZones.add(zone);
        this.events.detected({
          zone,
          name,
          from: `${query.remoteAddress}:${query.remotePort}`,
          upstreams: this.block.forward?.to.map((u) => `${u.host}:${u.port}`) ?? [],
        });
      }
      query.plugin = "loop";
      deliver(query, errorReply(query, RCODE.SERVFAIL));
      return;
    }
    (this.bypass ?? next)(query);
  }

  private zoneOf(name: string): string {
    let best = ".";
    for (const zone of this.block.zones) {
      if ((zone === "." || name.endsWith(`.${zone}`) || name === zone) && zone.length >= best.length)
        best = zone;
    }
    return best;
  }

  /** Begin probing through host:port (the block's own listener). */
  start(host: string, port: number): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const zone of this.block.zones) void this.probeZone(host, port, zone);
  }

  private async probeZone(host: string, port: number, zone: string): Promise<void> {
    const deadline = Date.now() + this.timings.deadlineMs;
    while (!this.closed && Date.now() < deadline) {
      const name = probeName(zone);
      const rcode = await sendProbe(host, port, name, this.timings.timeoutMs);
      if (this.closed) return;
      if (this.loopingZones.has(zone)) {
        this.later(() => void this.recheck(host, port, zone), this.timings.recheckMs);
        return;
      }
      // Any answer but SERVFAIL is conclusive; SERVFAIL (upstream not there yet) or silence: try again.
      if (rcode !== null && rcode !== RCODE.SERVFAIL) return;
      await new Promise<void>((resolve) => this.later(resolve, this.timings.retryMs));
    }
    if (!this.closed) this.events.inconclusive(zone);
  }

  private async recheck(host: string, port: number, zone: string): Promise<void> {
    if (this.closed) return;
    const name = probeName(zone);
    const rcode = await sendProbe(host, port, name, this.timings.timeoutMs);
    if (this.closed) return;
    if ((this.seen.get(name) ?? 0) <= 2 && rcode !== null && rcode !== RCODE.SERVFAIL) {
      this.loopingZones.delete(zone);
      this.events.cleared(zone);
      return;
    }
    this.later(() => void this.recheck(host, port, zone), this.timings.recheckMs);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
