// The HTTP endpoints a configuration asks for (`prometheus`, `health`, `ready`, `explain`, and
// node-cache's metrics address), kept in step with reloads. Ports are shared with a successor (SO_REUSEPORT).

import type { Server } from "node:http";
import type { Config } from "../config/types.ts";
import { type DebugBackend, startExplainServer } from "../explain/index.ts";
import { type HealthChecks, startHealthServer } from "../health/index.ts";
import type { Logger } from "../log/index.ts";
import { type MetricsSource, startMetricsServer } from "../metrics/index.ts";
import { explainAddressOf } from "../plugins/explain/index.ts";
import { pprofAddressOf, startPprofServer } from "../plugins/pprof/index.ts";

export class HttpEndpoints {
  private readonly servers = new Map<string, Server>();
  private readonly log: Logger;
  private readonly metrics: MetricsSource;
  private readonly checks: HealthChecks;
  private readonly nodecacheAddress: string | null;
  private readonly debug: DebugBackend;

  constructor(
    log: Logger,
    metrics: MetricsSource,
    checks: HealthChecks,
    nodecacheAddress: string | null,
    debug: DebugBackend,
  ) {
    this.log = log;
    this.metrics = metrics;
    this.checks = checks;
    this.nodecacheAddress = nodecacheAddress;
    this.debug = debug;
  }

  /** Open what `config` asks for and close what it no longer does. `strict`: a bind failure throws. */
  async apply(config: Config, strict: boolean): Promise<void> {
    const wanted = new Map<string, () => Promise<Server>>();
    const nodecache = this.nodecacheAddress;
    if (nodecache) wanted.set(`metrics|${nodecache}`, () => startMetricsServer(nodecache, this.metrics));
    for (const block of config.blocks) {
      const prometheus = block.prometheus;
      if (prometheus !== null)
        wanted.set(`metrics|${prometheus}`, () => startMetricsServer(prometheus, this.metrics));
      const health = block.health;
      if (health !== null) {
        wanted.set(`health|${health.address}`, () =>
          startHealthServer(health.address, "/health", this.checks),
        );
      }
      const ready = block.ready;
      if (ready !== null) wanted.set(`ready|${ready}`, () => startHealthServer(ready, "/ready", this.checks));
      const pprof = pprofAddressOf(block.plugins);
      if (pprof !== null) wanted.set(`pprof|${pprof}`, () => startPprofServer(pprof));
      const explain = explainAddressOf(block.plugins);
      if (explain !== null) wanted.set(`explain|${explain}`, () => startExplainServer(explain, this.debug));
    }
    for (const [key, server] of this.servers) {
      if (!wanted.has(key)) {
        this.servers.delete(key);
        await closeHttp(server);
      }
    }
    for (const [key, start] of wanted) {
      if (this.servers.has(key)) continue;
      try {
        this.servers.set(key, await start());
      } catch (error) {
        // node-cache logs a metrics listener failure and keeps serving DNS; so do we after start-up.
        if (strict && key !== `metrics|${nodecache}`) throw error;
        this.log.error({ err: error, endpoint: key }, `cannot listen for ${key.replace("|", " on ")}`);
      }
    }
  }

  async close(): Promise<void> {
    for (const server of this.servers.values()) await closeHttp(server);
    this.servers.clear();
  }
}

function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
