// Assembles the running daemon from a validated Config: DNS server, chains, metrics and health
// endpoints. main.ts only wires flags and signals to this.

import type { Server } from "node:http";
import { type Now, TimerWheel } from "../clock/index.ts";
import type { Config, ServerBlock } from "../config/types.ts";
import { Forwarder } from "../forward/index.ts";
import { startHealthServer } from "../health/index.ts";
import { type Logger, RateLimitedLog } from "../log/index.ts";
import { type Metrics, startMetricsServer } from "../metrics/index.ts";
import { DnsServer, ForwardPlugin, type Handler } from "../server/index.ts";
import { forwardObserver } from "./observers.ts";

export interface DaemonDeps {
  log: Logger;
  metrics: Metrics;
  now: Now;
  reusePort: boolean;
}

export class Daemon {
  readonly server: DnsServer;
  private readonly deps: DaemonDeps;
  private readonly wheel: TimerWheel;
  private readonly http = new Map<string, Server>();
  private readonly errorLog: RateLimitedLog;
  private serving = false;

  constructor(deps: DaemonDeps) {
    this.deps = deps;
    this.wheel = new TimerWheel(deps.now);
    this.errorLog = new RateLimitedLog(deps.log, 10_000, deps.now);
    this.server = new DnsServer({
      now: deps.now,
      clock: () => performance.now(),
      metrics: deps.metrics,
      log: deps.log,
      reusePort: deps.reusePort,
      handlers: (block) => this.handlersFor(block),
    });
  }

  async start(config: Config): Promise<void> {
    await this.server.apply(config);
    await this.startHttp(config);
    this.serving = true;
  }

  async stop(drainMs: number): Promise<void> {
    this.serving = false;
    await this.server.stop(drainMs);
    for (const server of this.http.values()) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.http.clear();
  }

  private handlersFor(block: ServerBlock): Handler[] {
    const handlers: Handler[] = [];
    if (block.forward !== null) {
      const forwarder = new Forwarder(block.forward, {
        now: this.deps.now,
        wheel: this.wheel,
        observer: forwardObserver(this.deps.metrics),
        warn: (message, fields) => {
          if (block.errors !== null) this.errorLog.warn(`${message}|${JSON.stringify(fields ?? {})}`, message, fields);
        },
      });
      handlers.push(
        new ForwardPlugin(forwarder, (error) => this.deps.log.error({ err: error }, "forward reply handling failed")),
      );
    }
    return handlers;
  }

  private async startHttp(config: Config): Promise<void> {
    const wanted = new Map<string, () => Promise<Server>>();
    for (const block of config.blocks) {
      if (block.prometheus !== null) {
        const address = block.prometheus;
        wanted.set(`metrics|${address}`, () => startMetricsServer(address, this.deps.metrics.registry));
      }
      if (block.health !== null) {
        const address = block.health.address;
        wanted.set(`health|${address}`, () => startHealthServer(address, "/health", this.checks()));
      }
      if (block.ready !== null) {
        const address = block.ready;
        wanted.set(`ready|${address}`, () => startHealthServer(address, "/ready", this.checks()));
      }
    }
    for (const [key, start] of wanted) {
      if (!this.http.has(key)) this.http.set(key, await start());
    }
  }

  private checks() {
    return { healthy: () => this.serving, ready: () => this.serving };
  }
}
