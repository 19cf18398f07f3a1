// The upstream forwarder (CoreDNS `forward` semantics): pooled pipelined TCP or per-query UDP,
// policy order, health tracking with probes, max_concurrent, and a per-query deadline.

import type { ForwardConfig } from "../config/types.ts";
import { HEADER_LENGTH, nameInZone, nameToWire, skipName } from "../dns/index.ts";
import { Policy } from "./policy.ts";
import { QueryTask, type TaskContext } from "./task.ts";
import { tlsContext, tlsDial } from "./tls.ts";
import type { ClientProto, ForwardCallback, ForwardDeps, ForwardTuning, UpstreamState } from "./types.ts";
import { Upstream } from "./upstream.ts";

export { encodeFrame, FrameReader } from "./frame.ts";
export type * from "./types.ts";

export const DEFAULT_TUNING: Readonly<ForwardTuning> = Object.freeze({
  attemptTimeoutMs: 2000,
  deadlineMs: 5000,
  probeTimeoutMs: 1000,
  maxConnections: 8,
  pipelineDepth: 32,
});

/** Finished tasks kept for reuse; beyond this (an outage's burst ending) they are left to the GC. */
const MAX_SPARE_TASKS = 4096;

export class Forwarder {
  readonly config: ForwardConfig;
  private readonly deps: ForwardDeps;
  private readonly list: Upstream[];
  /**
   * In-flight tasks, each knowing its index: a Set reallocated its table every few hundred queries
   * (deleted entries are only reclaimed by a rehash), and that table lived long enough to be promoted.
   */
  private readonly tasks: QueryTask[] = [];
  /** A miss's task lives about one scavenge interval, so a fresh one per query was promoted. */
  private readonly spare: QueryTask[] = [];
  private readonly fromWire: Buffer;
  private readonly exceptWire: Buffer[];
  private readonly ctx: TaskContext;
  private closed = false;

  constructor(config: ForwardConfig, deps: ForwardDeps) {
    if (config.to.length === 0) throw new RangeError(`forward ${config.from}: no upstream addresses`);
    this.config = config;
    this.deps = deps;
    const tuning: ForwardTuning = { ...DEFAULT_TUNING, ...deps.tuning };
    this.fromWire = nameToWire(config.from);
    this.exceptWire = config.except.map((zone) => nameToWire(zone));
    const secure = config.to.some((to) => to.tls) ? tlsContext(config.tls ?? {}) : null;
    this.list = config.to.map(
      (to) =>
        new Upstream(
          {
            host: to.host,
            port: to.port,
            forceTcp: config.forceTcp,
            maxFails: config.maxFails,
            expireMs: config.expireMs,
            healthCheckMs: config.healthCheckMs,
            healthCheckNoRec: config.healthCheckNoRec,
            healthCheckDomain: config.healthCheckDomain,
            ...(to.tls && secure !== null ? { tlsDial: tlsDial(secure, config.tls?.serverName) } : {}),
          },
          tuning,
          deps,
        ),
    );
    const tasks = this.tasks;
    const spare = this.spare;
    this.ctx = {
      upstreams: this.list,
      policy: new Policy<Upstream>(config.policy),
      tuning,
      deps,
      finished(task) {
        const last = tasks.pop()!;
        if (last !== task) {
          tasks[task.index] = last;
          last.index = task.index;
        }
        task.index = -1;
        if (spare.length < MAX_SPARE_TASKS) spare.push(task);
      },
    };
  }

  /**
   * Whether this forwarder takes the (uncompressed, any case) wire name at [start, end) of `qname`:
   * inside FROM and outside every `except` zone.
   */
  handles(qname: Buffer, start = 0, end = qname.length): boolean {
    if (!nameInZone(qname, start, end, this.fromWire)) return false;
    for (const zone of this.exceptWire) if (nameInZone(qname, start, end, zone)) return false;
    return true;
  }

  /**
   * Forward a complete query (header + question [+ OPT]). The callback runs exactly once: with the
   * reply (the query's ID and question spelling restored), `failed`, or `refused` (max_concurrent).
   * It runs synchronously for `refused` and for a closed forwarder or unreadable query.
   * `clientProto` "tcp" sends over TCP unless prefer_udp; force_tcp always uses TCP. The callback
   * gets `context` back as its second argument. `message` is copied: the caller may reuse it at once.
   */
  query(
    message: Buffer,
    callback: ForwardCallback,
    clientProto: ClientProto = "udp",
    context: unknown = null,
  ): void {
    if (this.closed) {
      callback({ kind: "failed", reason: "forwarder closed" }, context);
      return;
    }
    const max = this.config.maxConcurrent;
    if (max > 0 && this.tasks.length >= max) {
      this.deps.observer.maxConcurrentReject();
      callback({ kind: "refused" }, context);
      return;
    }
    const qnameEnd = message.length > HEADER_LENGTH ? skipName(message, HEADER_LENGTH) : -1;
    if (qnameEnd < 0 || qnameEnd + 4 > message.length) {
      callback({ kind: "failed", reason: "query has no readable question" }, context);
      return;
    }
    const useTcp = this.config.forceTcp || (clientProto === "tcp" && !this.config.preferUdp);
    const task = this.spare.pop() ?? new QueryTask(this.ctx);
    task.init(message, qnameEnd, callback, useTcp, context);
    task.index = this.tasks.length;
    this.tasks.push(task);
    task.start();
  }

  /** Queries waiting for an upstream. */
  get inFlight(): number {
    return this.tasks.length;
  }

  /** Each upstream's address, health and pool, in configured order. */
  upstreams(): UpstreamState[] {
    return this.list.map((u) => u.state());
  }

  /** Whether every upstream is marked down. */
  get allDown(): boolean {
    return this.list.every((u) => u.health.down);
  }

  /** End in-flight queries with `failed`, stop probes, close every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.tasks.slice()) task.abort("forwarder closed");
    await Promise.all(this.list.map((u) => u.close()));
  }
}
