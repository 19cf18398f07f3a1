// One cluster index per distinct `kubernetes` configuration, kept across reloads, each fed by an
// API watch (its own, or with -workers N a subscription to the primary's one watch per node);
// watch changes drop the cached answers they affect at once; watch health goes to metrics.

import { ClusterRecords } from "../cluster/index.ts";
import type { AutopathConfig, KubernetesConfig } from "../config/types.ts";
import {
  type ConnectionOptions,
  startWatch,
  type WatchHandle,
  type WatchObserver,
  type WatchStarter,
} from "../kubeapi/index.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { CachePlugin } from "../server/index.ts";
import type { SelfResolver } from "./self-resolve.ts";

interface Member {
  records: ClusterRecords;
  watch: WatchHandle;
}

export interface ClusterHubDeps {
  now(): number;
  log: Logger;
  metrics: Metrics;
  resolver: SelfResolver;
  /** The caches currently serving (looked up at change time, so reloads are followed). */
  caches(): CachePlugin[];
  nodeName: string | undefined;
  hostSearch: readonly string[];
  /** Overrides of the in-cluster connection (tests). */
  connection?: Omit<ConnectionOptions, "endpoint" | "kubeconfig">;
  /** Where the watch runs: in this process (default) or in the primary (a worker of several). */
  startWatch?: WatchStarter;
}

export class ClusterHub {
  private readonly deps: ClusterHubDeps;
  private members = new Map<string, Member>();
  private used = new Set<string>();

  constructor(deps: ClusterHubDeps) {
    this.deps = deps;
  }

  /** The index for this configuration, started on first use. */
  recordsFor(config: KubernetesConfig, autopath: AutopathConfig | null): ClusterRecords {
    const withAutopath = autopath?.source === "@kubernetes";
    const { line: _line, ...shape } = config;
    const key = JSON.stringify([shape, withAutopath]);
    this.used.add(key);
    const existing = this.members.get(key);
    if (existing !== undefined) return existing.records;
    const { deps } = this;
    const records = new ClusterRecords(config, {
      now: deps.now,
      resolve: (nameWire, qtype) => deps.resolver.resolve(nameWire, qtype),
      autopath: withAutopath,
      hostSearch: deps.hostSearch,
    });
    records.onChange((names) => {
      for (const cache of deps.caches()) cache.cache.invalidateNames(names);
    });
    let wasSynced = false;
    const sink = (event: Parameters<ClusterRecords["apply"]>[0]) => {
      records.apply(event);
      if (!wasSynced && records.synced) {
        wasSynced = true;
        // Whatever kube-dns told us before the index was complete may be wrong now.
        for (const cache of deps.caches()) cache.cache.invalidateVolatile();
        deps.log.info({ zones: config.zones }, "cluster index synced; answering cluster names in-process");
      }
    };
    const watch = (deps.startWatch ?? startWatch)({
      config,
      kinds: records.kinds,
      nodeName: deps.nodeName,
      sink,
      observer: watchObserver(deps.metrics, deps.log),
      ...(deps.connection ? { connection: deps.connection } : {}),
    });
    this.members.set(key, { records, watch });
    return records;
  }

  /** Call before building chains for a new config. */
  beginApply(): void {
    this.used = new Set();
  }

  /** Stop watches no configuration uses any more (after a reload). */
  async endApply(): Promise<void> {
    for (const [key, member] of this.members) {
      if (this.used.has(key)) continue;
      this.members.delete(key);
      await member.watch.stop();
    }
  }

  /** Every index has completed its first list (readiness). */
  get synced(): boolean {
    for (const member of this.members.values()) if (!member.records.synced) return false;
    return true;
  }

  async stop(): Promise<void> {
    for (const member of this.members.values()) await member.watch.stop();
    this.members.clear();
  }
}

/** Watch state into metrics and the log (wherever the watch runs: one process does this per node). */
export function watchObserver(m: Metrics, log: Logger): WatchObserver {
  return {
    objects: (kind, count) => m.watchObjects.labels(kind).set(count),
    synced: (kind, at) => m.watchLastSync.labels(kind).set(at / 1000),
    restarted: (kind, reason) => {
      m.watchRestarts.labels(kind).inc();
      log.warn({ resource: kind, reason }, "kubernetes watch restarted");
    },
    firstSync: (kind) => m.watchSynced.labels(kind).set(1),
  };
}
