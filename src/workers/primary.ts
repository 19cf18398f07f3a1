// The primary of `-workers N`: forks the serving processes (each binds the same addresses with
// SO_REUSEPORT and has its own cache and cluster index), replaces any that dies at once, runs the
// node's one API watch and feeds the workers' indexes from it, serves the HTTP endpoints with
// metrics summed over all processes, and relays SIGTERM.

import cluster, { type Worker } from "node:cluster";
import type { Config } from "../config/types.ts";
import { watchObserver } from "../daemon/cluster.ts";
import { HttpEndpoints } from "../daemon/http.ts";
import { SelfProbe } from "../health/index.ts";
import type { Logger } from "../log/index.ts";
import { aggregateMetrics, type Metrics, type MetricsSource } from "../metrics/index.ts";
import { controlName, DnsServer } from "../server/index.ts";
import { WorkersDebug } from "./debug.ts";
import {
  HEARTBEAT_MS,
  isMessage,
  KILL_AFTER_MS,
  type MetricsJson,
  type ToPrimary,
  type ToWorker,
  WEDGED_AFTER_MS,
} from "./protocol.ts";
import { WatchRelay } from "./watch-relay.ts";

interface WorkerState {
  worker: Worker;
  lastBeat: number;
  listening: boolean;
  ready: boolean;
  handedOff: boolean;
}

export interface SupervisorOptions {
  count: number;
  controlToken: string;
  log: Logger;
  metrics: Metrics;
  nodecacheMetricsAddress: string | null;
  /** This node (NODE_NAME): its pods are watched when a configuration needs them. */
  nodeName: string | undefined;
  now: () => number;
}

export class Supervisor {
  private readonly o: SupervisorOptions;
  private readonly workers = new Map<number, WorkerState>();
  private readonly endpoints: HttpEndpoints;
  private readonly probe: SelfProbe;
  private readonly watches: WatchRelay;
  private stopping = false;
  private requestId = 0;
  private readonly pending = new Map<number, { left: number; results: MetricsJson[]; done: () => void }>();
  private readonly debug = new WorkersDebug(
    () => [...this.workers.values()].filter((w) => w.worker.isConnected()).map((w) => w.worker),
    (worker, message) => this.send(worker, message),
  );

  constructor(options: SupervisorOptions) {
    this.o = options;
    this.probe = new SelfProbe(
      { now: options.now, intervalMs: 1000, staleAfterMs: 5000 },
      controlName("h", options.controlToken),
    );
    this.endpoints = new HttpEndpoints(
      options.log,
      this.metricsSource(),
      { healthy: () => this.healthy(), ready: () => this.ready() },
      options.nodecacheMetricsAddress,
      this.debug,
    );
    this.watches = new WatchRelay({
      nodeName: options.nodeName,
      observer: watchObserver(options.metrics, options.log),
    });
    cluster.on("message", (worker, message: unknown) => this.onMessage(worker, message));
    cluster.on("exit", (worker, code, signal) => this.onExit(worker, code, signal));
    setInterval(() => this.reapWedged(), HEARTBEAT_MS).unref();
  }

  /** Fork every worker and resolve once all of them listen. */
  async start(config: Config): Promise<void> {
    for (let i = 0; i < this.o.count; i++) this.fork();
    const deadline = Date.now() + 30_000;
    while ([...this.workers.values()].filter((w) => w.listening).length < this.o.count) {
      if (Date.now() > deadline) throw new Error("workers did not start listening within 30 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.apply(config, true);
    this.probe.start();
    this.o.log.info({ workers: this.o.count }, `${this.o.count} workers serving`);
  }

  /** A reloaded config: the workers reload the file themselves; the endpoints follow here. */
  async apply(config: Config, strict = false): Promise<void> {
    this.probe.setTargets(
      config.blocks.flatMap((b) =>
        DnsServer.addressesOf(b).map((a) => {
          const [host, port] = a.split("|") as [string, string];
          return { host, port: Number(port) };
        }),
      ),
    );
    await this.endpoints.apply(config, strict);
  }

  /** Relay SIGTERM and wait for every worker; true when a successor took over from them. */
  async shutdown(timeoutMs: number): Promise<{ handedOff: boolean }> {
    this.stopping = true;
    this.probe.stop();
    // Every worker's pid: a worker's siblings keep our addresses bound, and are not a successor.
    const workerPids = [...this.workers.values()].flatMap((w) => w.worker.process.pid ?? []);
    for (const state of this.workers.values()) this.send(state.worker, { type: "nl:shutdown", workerPids });
    const deadline = Date.now() + timeoutMs;
    while ([...this.workers.values()].some((w) => !w.worker.isDead()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const state of this.workers.values())
      if (!state.worker.isDead()) state.worker.process.kill("SIGKILL");
    await this.watches.stop();
    await this.endpoints.close();
    return { handedOff: [...this.workers.values()].some((w) => w.handedOff) };
  }

  private fork(): void {
    const worker = cluster.fork({ NODELOCALDNS_CONTROL_TOKEN: this.o.controlToken });
    this.workers.set(worker.id, {
      worker,
      lastBeat: Date.now(),
      listening: false,
      ready: false,
      handedOff: false,
    });
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const state = this.workers.get(worker.id);
    this.watches.forget(worker);
    if (state === undefined || this.stopping) return;
    this.workers.delete(worker.id);
    this.o.log.error(
      { worker: worker.id, pid: worker.process.pid, code, signal },
      "worker died; starting another",
    );
    this.fork();
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!isMessage<ToPrimary>(message)) return;
    const state = this.workers.get(worker.id);
    if (state === undefined) return;
    if (message.type === "nl:state") {
      state.lastBeat = Date.now();
      state.listening = message.listening;
      state.ready = message.ready;
    } else if (message.type === "nl:watch-open") {
      this.watches.open(worker, message.id, message.spec);
    } else if (message.type === "nl:watch-close") {
      this.watches.close(worker, message.id);
    } else if (message.type === "nl:exiting") {
      state.handedOff = message.handedOff;
    } else if (message.type === "nl:metrics-res") {
      const request = this.pending.get(message.id);
      if (request === undefined) return;
      request.results.push(message.metrics);
      if (--request.left === 0) request.done();
    } else if (message.type === "nl:debug-res") {
      this.debug.replied(message);
    }
  }

  /** A worker whose event loop stopped beating for long is killed; the exit handler replaces it. */
  private reapWedged(): void {
    if (this.stopping) return;
    const now = Date.now();
    for (const state of this.workers.values()) {
      if (state.listening && now - state.lastBeat > KILL_AFTER_MS && !state.worker.isDead()) {
        this.o.log.error({ worker: state.worker.id }, "worker wedged (no heartbeat); killing it");
        state.worker.process.kill("SIGKILL");
      }
    }
  }

  private healthy(): boolean {
    if (this.stopping || !this.probe.healthy()) return false;
    const now = Date.now();
    return [...this.workers.values()].every((w) => w.listening && now - w.lastBeat <= WEDGED_AFTER_MS);
  }

  private ready(): boolean {
    if (this.stopping) return false;
    const states = [...this.workers.values()];
    return states.length === this.o.count && states.every((w) => w.ready);
  }

  private send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }

  /** /metrics: this process's registry plus every worker's, summed per series. */
  private metricsSource(): MetricsSource {
    const registry = this.o.metrics.registry;
    return {
      contentType: registry.contentType,
      metrics: async () => {
        const own = await registry.getMetricsAsJSON();
        const live = [...this.workers.values()].filter((w) => w.worker.isConnected());
        const id = ++this.requestId;
        const results: MetricsJson[] = [own as MetricsJson];
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          if (live.length === 0) return done();
          this.pending.set(id, { left: live.length, results, done });
          for (const state of live) this.send(state.worker, { type: "nl:metrics-req", id });
        });
        this.pending.delete(id);
        return aggregateMetrics(results).metrics();
      },
    };
  }
}
