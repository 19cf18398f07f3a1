// Builds listeners and block chains from a Config; swaps chains on reload; drains on stop.

import net from "node:net";
import type { Now } from "../clock/index.ts";
import type { Config, ServerBlock } from "../config/types.ts";
import { wireToName } from "../dns/index.ts";
import type { Logger } from "../log/index.ts";
import { type Metrics, ZoneMetrics } from "../metrics/index.ts";
import { CachePlugin } from "./cache-plugin.ts";
import { composeChain, endOfChain, type Handler, type Next } from "./chain.ts";
import type { ControlNames } from "./control.ts";
import type { DispatchHooks } from "./dispatch.ts";
import { enableTcpMigration } from "./handoff.ts";
import { Listener, NO_TIMEOUTS, type TcpTimeouts } from "./listener.ts";
import { MetricsPlugin, type RepliedHook } from "./metrics-plugin.ts";
import type { Query } from "./query.ts";
import { queryLogger } from "./query-log.ts";
import { type Route, Router } from "./router.ts";

/** Builds the handlers a block needs beyond metrics and cache (forward, kubernetes, loop). */
export type HandlerFactory = (block: ServerBlock) => Handler[];

export interface ServerDeps {
  now: Now;
  /** High-resolution milliseconds, for durations. */
  clock: () => number;
  metrics: Metrics;
  log: Logger;
  handlers: HandlerFactory;
  reusePort: boolean;
  /** Control names (self-probe, handoff), answered or dropped by the dispatcher itself. */
  control?: ControlNames;
  /** Called for every answered query of a block with `prometheus` or `log`. */
  onReplied?: RepliedHook;
}

interface BlockRuntime {
  block: ServerBlock;
  entry: Next;
  handlers: Handler[];
}

const WILDCARD = "::";

export class DnsServer {
  private readonly deps: ServerDeps;
  private readonly listeners = new Map<string, Listener>();
  private runtimes: BlockRuntime[] = [];
  private inflightCount = 0;
  private readonly hooks: DispatchHooks;

  constructor(deps: ServerDeps) {
    this.deps = deps;
    this.hooks = {
      clock: deps.clock,
      control: deps.control ?? null,
      dropped: (query) => {
        this.finished();
        deps.metrics.dropped.labels(query.transport.server, query.transport.proto).inc();
      },
      failed: (query, error) => {
        deps.metrics.panics.inc();
        // With `debug`, the question too (the stack is in err either way).
        const qname = deps.log.isLevelEnabled("debug") ? questionText(query) : undefined;
        deps.log.error({ err: error, qtype: query.qtype, qname }, "query handling failed");
      },
    };
  }

  private finished(): void {
    this.inflightCount--;
    this.deps.metrics.inFlight.dec();
  }

  get inflight(): number {
    return this.inflightCount;
  }

  /** Where each block listens: "host:port" keys, wildcard as "::". */
  static addressesOf(block: ServerBlock): string[] {
    const hosts = block.bind.length > 0 ? block.bind : [WILDCARD];
    return hosts.map((host) => `${host}|${block.port}`);
  }

  /** Build chains for `config` and bind (or re-route) listeners; old chains are closed after. */
  async apply(config: Config): Promise<void> {
    const runtimes = config.blocks.map((block) => this.buildRuntime(block));
    const routesByAddress = new Map<string, { block: BlockRuntime; zone: string }[]>();
    for (const runtime of runtimes) {
      for (const address of DnsServer.addressesOf(runtime.block)) {
        const list = routesByAddress.get(address) ?? [];
        for (const zone of runtime.block.zones) list.push({ block: runtime, zone });
        routesByAddress.set(address, list);
      }
    }
    const started: Listener[] = [];
    // Existing listeners switch to the new chains only once every new listener is bound, so a failed
    // bind leaves the running configuration untouched.
    const reroutes: (() => void)[] = [];
    try {
      for (const [address, entries] of routesByAddress) {
        const [host, port] = address.split("|") as [string, string];
        const existing = this.listeners.get(address);
        const label = host === WILDCARD ? `dns://:${port}` : undefined;
        const router = (l: { serverLabel: string }) =>
          new Router(entries.map((e) => this.route(e.block, e.zone, label ?? l.serverLabel)));
        if (existing !== undefined) {
          const next = router(existing);
          const timeouts = tcpTimeoutsOf(entries.map((e) => e.block.block));
          reroutes.push(() => {
            existing.router = next;
            existing.timeouts = timeouts;
          });
          continue;
        }
        const listener = new Listener(
          {
            host,
            port: Number(port),
            hooks: this.hooks,
            reusePort: this.deps.reusePort,
            started: () => {
              this.inflightCount++;
              this.deps.metrics.inFlight.inc();
            },
            finished: () => this.finished(),
          },
          new Router([]),
        );
        listener.router = router(listener);
        listener.timeouts = tcpTimeoutsOf(entries.map((e) => e.block.block));
        await listener.start();
        started.push(listener);
        this.listeners.set(address, listener);
      }
    } catch (error) {
      for (const listener of started) {
        await listener.close();
        this.listeners.delete(`${listener.host}|${listener.port}`);
      }
      for (const runtime of runtimes) await closeHandlers(runtime.handlers);
      throw error;
    }
    for (const reroute of reroutes) reroute();
    for (const [address, listener] of this.listeners) {
      if (!routesByAddress.has(address)) {
        await listener.close();
        this.listeners.delete(address);
      }
    }
    const old = this.runtimes;
    this.runtimes = runtimes;
    // Queries already inside the old chains finish there; close their resources a little later.
    setTimeout(() => {
      for (const runtime of old) void closeHandlers(runtime.handlers);
    }, 6000).unref();
  }

  /** Every handler of a kind across blocks (e.g. all caches, for invalidation). */
  handlersNamed<T extends Handler>(name: Handler["name"]): T[] {
    return this.runtimes.flatMap((r) => r.handlers.filter((h) => h.name === name) as T[]);
  }

  /** Each block of the running configuration with its handlers (introspection). */
  chains(): readonly { block: ServerBlock; handlers: readonly Handler[] }[] {
    return this.runtimes;
  }

  /** The listener for a block's first address (where its clients' queries arrive), if bound. */
  listenerOf(block: ServerBlock): Listener | undefined {
    return this.listeners.get(DnsServer.addressesOf(block)[0]!);
  }

  listening(): { host: string; port: number }[] {
    return [...this.listeners.values()].map((l) => ({ host: l.host, port: l.port }));
  }

  /**
   * Step aside for a successor already serving the same addresses: UDP sockets detach (new queries
   * go to the successor, queued ones are still answered), TCP listeners close (pending connections
   * migrate where the kernel allows), queries in flight are answered, then everything closes.
   */
  async handoff(drainMs: number): Promise<void> {
    await enableTcpMigration();
    for (const listener of this.listeners.values()) await listener.detachUdp();
    for (const listener of this.listeners.values()) await listener.stopAccepting();
    const deadline = Date.now() + drainMs;
    const busy = () =>
      this.inflightCount > 0 || [...this.listeners.values()].some((l) => l.pendingReplies > 0);
    // Read what the kernel had queued before the detach, and answer it.
    do await new Promise((r) => setTimeout(r, 50));
    while (busy() && Date.now() < deadline);
    const answered = [...this.listeners.values()].reduce((n, l) => n + l.repliesAfterDetach, 0);
    this.deps.log.info({ answeredAfterStepAside: answered }, "handoff drained");
    await this.stop(0);
  }

  /** Stop taking queries, answer those in flight (up to `drainMs`), close everything. */
  async stop(drainMs: number): Promise<void> {
    for (const listener of this.listeners.values()) await listener.stopAccepting();
    const deadline = Date.now() + drainMs;
    while (this.inflightCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const listener of this.listeners.values()) await listener.close();
    this.listeners.clear();
    for (const runtime of this.runtimes) await closeHandlers(runtime.handlers);
    this.runtimes = [];
  }

  private buildRuntime(block: ServerBlock): BlockRuntime {
    const { deps } = this;
    const handlers: Handler[] = [];
    // `log` needs the reply observer too; without `prometheus` it logs and does not count.
    const logged = block.log === null ? null : queryLogger(block.log, deps.log);
    const replied = joinHooks(deps.onReplied ?? null, logged);
    if (block.prometheus !== null || logged !== null)
      handlers.push(new MetricsPlugin(deps.clock, replied, block.prometheus !== null));
    if (block.cache !== null) {
      const zones = (block.cache.zones.length > 0 ? block.cache.zones : block.zones).join(" ");
      const server = blockServerLabel(block);
      // Entries in the cluster zones can be dropped by name when the watch changes them.
      const volatile = block.kubernetes?.zones ?? [];
      handlers.push(
        new CachePlugin(block.cache, block.zones, deps.now, deps.metrics, { server, zones }, volatile),
      );
    }
    handlers.push(...deps.handlers(block));
    return { block, handlers, entry: composeChain(handlers, endOfChain) };
  }

  private route(runtime: BlockRuntime, zone: string, serverLabel: string): Route {
    return {
      zone,
      zoneWire: Router.zoneWire(zone),
      entry: runtime.entry,
      metrics: new ZoneMetrics(this.deps.metrics, serverLabel, zone),
      block: runtime.block,
      handlers: runtime.handlers,
    };
  }
}

function questionText(query: Query): string {
  try {
    return wireToName(query.buf, 12, query.qnameEnd);
  } catch {
    return "";
  }
}

/**
 * The TCP timeouts of a listener: the first of its blocks with a `timeouts` directive (the plugin
 * table's config, whose shape is TcpTimeouts), else none.
 */
function tcpTimeoutsOf(blocks: readonly ServerBlock[]): TcpTimeouts {
  for (const block of blocks) {
    const config = block.plugins.timeouts?.[0] as TcpTimeouts | undefined;
    if (config !== undefined) return config;
  }
  return NO_TIMEOUTS;
}

/** A block's `server` label for per-block metrics (cache, template): its first bind address and port. */
export function blockServerLabel(block: ServerBlock): string {
  return block.bind.length > 0 ? `dns://${formatHost(block.bind[0]!)}:${block.port}` : `dns://:${block.port}`;
}

function formatHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

async function closeHandlers(handlers: Handler[]): Promise<void> {
  for (const handler of handlers) {
    try {
      await handler.close?.();
    } catch {
      // closing is best effort
    }
  }
}

function joinHooks(a: RepliedHook | null, b: RepliedHook | null): RepliedHook | null {
  if (a === null || b === null) return a ?? b;
  return (query, reply, seconds) => {
    a(query, reply, seconds);
    b(query, reply, seconds);
  };
}
