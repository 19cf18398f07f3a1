// Assembles the running daemon from a validated Config: DNS server, chains, metrics and health
// endpoints. main.ts only wires flags and signals to this. apply() is also the reload step.

import { isIPv6 } from "node:net";
import { type Now, TimerWheel } from "../clock/index.ts";
import type { Config, ServerBlock } from "../config/types.ts";
import { errorReply, RCODE } from "../dns/index.ts";
import { Explainer } from "../explain/index.ts";
import { Forwarder } from "../forward/index.ts";
import { installTestHooks, SelfProbe } from "../health/index.ts";
import type { ConnectionOptions, WatchStarter } from "../kubeapi/index.ts";
import { ErrorsLog, type Logger } from "../log/index.ts";
import { LOOP_TIMINGS, LoopHandler, type LoopTimings } from "../loop/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { handlerFactory, loadPlugins, PLUGIN_TABLE } from "../plugins/index.ts";
import {
  blockServerLabel,
  type CachePlugin,
  CHAIN_ORDER,
  ControlNames,
  composeChain,
  controlName,
  DnsServer,
  deliver,
  ForwardPlugin,
  type Handler,
  KubernetesPlugin,
  newToken,
  otherSocketBound,
  successorServes,
} from "../server/index.ts";
import { ClusterHub } from "./cluster.ts";
import { HttpEndpoints } from "./http.ts";
import { loopEvents } from "./loop-events.ts";
import { forwardObserver, healthObserver } from "./observers.ts";

import { SelfResolver } from "./self-resolve.ts";

/**
 * How long after SIGTERM a bound but silent successor may take to answer the handoff probe (a busy
 * node starting it); with nothing else bound on our addresses the daemon does not wait.
 */
const SUCCESSOR_GRACE_MS = 3000;

export interface DaemonDeps {
  log: Logger;
  metrics: Metrics;
  now: Now;
  reusePort: boolean;
  /** node-cache's own metrics listener (-metrics-listen-address); null = none. */
  nodecacheMetricsAddress?: string | null;
  /** Loop probe timings (tests shorten them). */
  loopTimings?: LoopTimings;
  /** This node's name (NODE_NAME), for watching its pods. */
  nodeName?: string;
  /** The node's resolv.conf search domains (autopath tries them after the cluster ones). */
  hostSearch?: readonly string[];
  /** Overrides of the in-cluster API connection (tests). */
  kubeConnection?: Omit<ConnectionOptions, "endpoint" | "kubeconfig">;
  /** Shared by every worker of one daemon, so their handoff probes are told from a successor's. */
  controlToken?: string;
  /** A worker of several serves DNS only: no HTTP endpoints, no self-probe (the primary has them). */
  worker?: boolean;
  /** Where cluster watches run; a worker subscribes to the primary's (one watch per node). */
  startWatch?: WatchStarter;
  /** Self-probe period and how long without an answer makes /health red. */
  healthProbe?: { intervalMs: number; staleAfterMs: number };
}

export class Daemon {
  readonly server: DnsServer;
  private readonly deps: DaemonDeps;
  private readonly wheel: TimerWheel;
  /** HTTP endpoints; null in a worker (the primary serves them). */
  private readonly endpoints: HttpEndpoints | null;
  private serving = false;
  private readonly cluster: ClusterHub;
  private readonly resolver = new SelfResolver();
  private readonly probe: SelfProbe;
  readonly control: ControlNames;
  /** `explain` and `cache show/flush` on this process's chains (the endpoint, or a worker's IPC). */
  readonly explainer: Explainer;
  private config: Config | null = null;
  /** The log level the daemon started with; `debug` in any block raises it while present. */
  private baseLogLevel: string | null = null;

  constructor(deps: DaemonDeps) {
    this.deps = deps;
    this.wheel = new TimerWheel(deps.now, 25, 512, (err) => deps.log.error({ err }, "timer callback failed"));
    this.control = new ControlNames(deps.controlToken ?? newToken());
    this.probe = new SelfProbe(
      {
        now: deps.now,
        ...(deps.healthProbe ?? { intervalMs: 1000, staleAfterMs: 5000 }),
        onRound: healthObserver(deps.metrics),
      },
      controlName("h", this.control.token),
    );
    this.cluster = new ClusterHub({
      now: deps.now,
      log: deps.log,
      metrics: deps.metrics,
      resolver: this.resolver,
      caches: () => this.server.handlersNamed<CachePlugin>("cache"),
      nodeName: deps.nodeName,
      hostSearch: deps.hostSearch ?? [],
      ...(deps.kubeConnection ? { connection: deps.kubeConnection } : {}),
      ...(deps.startWatch ? { startWatch: deps.startWatch } : {}),
    });
    this.server = new DnsServer({
      control: this.control,
      now: deps.now,
      clock: () => performance.now(),
      metrics: deps.metrics,
      log: deps.log,
      reusePort: deps.reusePort,
      handlers: (block) => this.handlersFor(block),
    });
    this.explainer = new Explainer({
      server: this.server,
      config: () => this.config,
      hostSearch: deps.hostSearch ?? [],
    });
    this.endpoints = deps.worker
      ? null
      : new HttpEndpoints(
          deps.log,
          deps.metrics.registry,
          this.checks(),
          deps.nodecacheMetricsAddress ?? null,
          this.explainer,
        );
  }

  async start(config: Config): Promise<void> {
    await this.apply(config);
    this.serving = true;
    if (!this.deps.worker) this.probe.start();
    installTestHooks(() => this.server.listening(), this.deps.log);
    // Once, at start: everything the daemon runs with, as one structured line.
    this.deps.log.info(
      { config, reusePort: this.deps.reusePort, nodecacheMetrics: this.deps.nodecacheMetricsAddress ?? null },
      "effective configuration",
    );
  }

  /** Serve `config`: new chains on the same listeners (no query dropped), HTTP endpoints, loop probes. */
  async apply(config: Config): Promise<void> {
    // Handler code of the config's plugins, before the (synchronous) chain building; should the
    // import fail, nothing has changed yet and the last good config keeps serving.
    await loadPlugins(config);
    this.baseLogLevel ??= this.deps.log.level;
    const debug = config.blocks.some((b) => b.plugins.debug !== undefined);
    this.deps.log.level = debug ? "debug" : this.baseLogLevel;
    if (debug) this.deps.log.debug("log level raised to debug (a block has the debug directive)");
    this.cluster.beginApply();
    try {
      await this.server.apply(config);
    } finally {
      await this.cluster.endApply();
    }
    this.config = config;
    this.probe.setTargets(this.server.listening());
    // ExternalName targets resolve through the block that serves the root, else the first one.
    const root = config.blocks.find((b) => b.zones.includes(".")) ?? config.blocks[0];
    this.resolver.setTarget(root === undefined ? null : probeTarget(root));
    await this.endpoints?.apply(config, !this.serving);
    for (const loop of this.server.handlersNamed<LoopHandler>("loop")) {
      const target = loop.probeTarget;
      loop.start(target.host, target.port);
    }
  }

  /**
   * SIGTERM. Health and readiness turn red at once while DNS keeps answering for the lameduck
   * period; as soon as a successor answers on every address we hand over to it (no query lost);
   * otherwise, at the end, stop taking queries and answer those in flight.
   * Returns whether a successor took over (then the interface and rules are its: keep them).
   * `siblingPids`: the other workers of this instance, whose sockets are not a successor's.
   */
  async shutdown(drainMs = 5000, siblingPids: readonly number[] = []): Promise<{ handedOff: boolean }> {
    this.serving = false;
    const blocks = this.config?.blocks ?? [];
    const lameduckMs = Math.max(0, ...blocks.map((b) => b.health?.lameduckMs ?? 0));
    const started = Date.now();
    const deadline = started + lameduckMs;
    const probe = controlName("x", this.control.token);
    let otherBound: boolean | null = null;
    for (;;) {
      if (await successorServes(this.server.listening(), probe)) {
        this.deps.log.info("a successor serves our addresses: handing over");
        this.probe.stop();
        await this.server.handoff(drainMs);
        await this.closeRest();
        return { handedOff: true };
      }
      if (Date.now() >= deadline) {
        // Past lameduck: stop now unless another process has our addresses bound (the kernel says
        // so at once); a successor on a busy node may answer late, so it gets a while longer.
        otherBound ??= await otherSocketBound(this.server.listening(), undefined, siblingPids);
        if (!otherBound || Date.now() >= started + SUCCESSOR_GRACE_MS) break;
        continue; // each successorServes round waits for answers itself
      }
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
    }
    await this.stop(drainMs);
    return { handedOff: false };
  }

  async stop(drainMs: number): Promise<void> {
    this.serving = false;
    this.probe.stop();
    await this.server.stop(drainMs);
    await this.closeRest();
  }

  private async closeRest(): Promise<void> {
    await this.cluster.stop();
    await this.endpoints?.close();
  }

  private handlersFor(block: ServerBlock): Handler[] {
    const handlers: Handler[] = [];
    const env = {
      block,
      now: this.deps.now,
      log: this.deps.log,
      metrics: this.deps.metrics,
      wheel: this.wheel,
      server: blockServerLabel(block),
      resolve: (nameWire: Buffer, qtype: number) => this.resolver.resolve(nameWire, qtype),
    };
    for (const plugin of PLUGIN_TABLE) {
      const configs = block.plugins[plugin.name];
      const factory = configs === undefined ? undefined : handlerFactory(plugin);
      if (factory !== undefined) handlers.push(factory(configs!, env));
    }
    if (block.kubernetes !== null) {
      const records = this.cluster.recordsFor(block.kubernetes, block.autopath);
      handlers.push(
        new KubernetesPlugin(records, block.autopath?.source === "@kubernetes", (error) =>
          this.deps.log.error({ err: error }, "cluster answer failed"),
        ),
      );
    }
    if (block.forward !== null) {
      // `errors`: upstream failures once per upstream per interval, or as its consolidate rules say.
      const errors =
        block.errors === null ? null : new ErrorsLog({ log: this.deps.log, config: block.errors });
      const forwarder = new Forwarder(block.forward, {
        now: this.deps.now,
        wheel: this.wheel,
        observer: forwardObserver(this.deps.metrics, errors),
        warn: (message, fields) => errors?.report(message, message, fields),
      });
      handlers.push(
        new ForwardPlugin(forwarder, (error) =>
          this.deps.log.error({ err: error }, "forward reply handling failed"),
        ),
      );
    }
    if (block.loop !== null) {
      // Probes skip the cache: the rest of the chain after it, ending in SERVFAIL like the chain does.
      const after = handlers.filter((h) => CHAIN_ORDER.indexOf(h.name) > CHAIN_ORDER.indexOf("cache"));
      const bypass = composeChain(after, (q) => {
        q.plugin = "";
        deliver(q, errorReply(q, RCODE.SERVFAIL));
      });
      const loop = new LoopHandler(
        block,
        bypass,
        loopEvents(block, this.deps.log, this.deps.metrics),
        this.deps.loopTimings ?? LOOP_TIMINGS,
      );
      loop.probeTarget = probeTarget(block);
      handlers.push(loop);
    }
    return handlers;
  }

  /** Serving, and every cluster index has completed its first list. */
  get isReady(): boolean {
    return this.serving && this.cluster.synced;
  }

  private checks() {
    return {
      healthy: () => this.serving && this.probe.healthy(),
      ready: () => this.serving && this.cluster.synced,
    };
  }
}

/** Where a block's loop probes go: its first bind address (wildcards: loopback) and port. */
export function probeTarget(block: ServerBlock): { host: string; port: number } {
  const first = block.bind[0];
  let host = first === undefined || first === "0.0.0.0" ? "127.0.0.1" : first === "::" ? "::1" : first;
  if (isIPv6(host.split("%")[0]!) && host.includes("%")) host = host.split("%")[0]!;
  return { host, port: block.port };
}
