// One prom-client Registry with CoreDNS's metric names, labels and buckets, so existing
// node-local-dns dashboards and alerts keep working.

import { FastCounterVec, FastHistogramVec } from "./fast.ts";
import { registerProcessMetrics } from "./process.ts";
import { Counter, Gauge, Histogram, Registry } from "./prom.ts";

/** CoreDNS plugin.TimeBuckets: ExponentialBuckets(0.00025, 2, 16), 0.25 ms .. 8.192 s. */
export const DURATION_BUCKETS = exponentialBuckets(0.00025, 2, 16);
/** CoreDNS plugin.SlimTimeBuckets: ExponentialBuckets(0.00025, 10, 5), 0.25 ms .. 2.5 s. */
export const SLIM_DURATION_BUCKETS = exponentialBuckets(0.00025, 10, 5);
/** plugin/metrics/vars: request and response size buckets. */
export const SIZE_BUCKETS = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];

/** As Go's prometheus.ExponentialBuckets: repeated multiplication, so the bounds print the same. */
function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}

export interface MetricsOptions {
  /** process_* metrics (CPU, memory, fds), named as Go's process collector names them. */
  processMetrics?: boolean;
}

export function createMetrics(version: string, options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  // Gauges read at scrape time (cache sizes) register a collector here instead of counting per query.
  const collectors = new Set<() => void>();
  const r = [registry];
  const m = {
    registry,
    collectors,
    requests: new FastCounterVec(
      registry,
      "coredns_dns_requests_total",
      "Counter of DNS requests made per zone, protocol and family.",
      ["server", "zone", "view", "proto", "family", "type"],
    ),
    responses: new FastCounterVec(
      registry,
      "coredns_dns_responses_total",
      "Counter of response status codes.",
      ["server", "zone", "view", "rcode", "plugin"],
    ),
    // CoreDNS's README lists a `type` label here; its code (vars.go, report.go) has none.
    duration: new FastHistogramVec(
      registry,
      "coredns_dns_request_duration_seconds",
      "Histogram of the time (in seconds) each request took per zone.",
      ["server", "zone", "view"],
      DURATION_BUCKETS,
    ),
    doRequests: new FastCounterVec(
      registry,
      "coredns_dns_do_requests_total",
      "Counter of DNS requests with DO bit set per zone.",
      ["server", "zone", "view"],
    ),
    requestSize: new FastHistogramVec(
      registry,
      "coredns_dns_request_size_bytes",
      "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
      ["server", "zone", "view", "proto"],
      SIZE_BUCKETS,
    ),
    responseSize: new FastHistogramVec(
      registry,
      "coredns_dns_response_size_bytes",
      "Size of the returned response in bytes.",
      ["server", "zone", "view", "proto"],
      SIZE_BUCKETS,
    ),
    cacheEntries: new Gauge({
      name: "coredns_cache_entries",
      help: "The number of elements in the cache.",
      labelNames: ["server", "type", "zones", "view"],
      registers: r,
      collect() {
        for (const collect of collectors) collect();
      },
    }),
    cacheRequests: new FastCounterVec(
      registry,
      "coredns_cache_requests_total",
      "The count of cache requests.",
      ["server", "zones", "view"],
    ),
    cacheHits: new FastCounterVec(registry, "coredns_cache_hits_total", "The count of cache hits.", [
      "server",
      "type",
      "zones",
      "view",
    ]),
    cacheMisses: new FastCounterVec(
      registry,
      "coredns_cache_misses_total",
      "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
      ["server", "zones", "view"],
    ),
    cachePrefetch: new Counter({
      name: "coredns_cache_prefetch_total",
      help: "The number of times the cache has prefetched a cached item.",
      labelNames: ["server", "zones", "view"],
      registers: r,
    }),
    cacheServedStale: new Counter({
      name: "coredns_cache_served_stale_total",
      help: "The number of requests served from stale cache entries.",
      labelNames: ["server", "zones", "view"],
      registers: r,
    }),
    cacheEvictions: new Counter({
      name: "coredns_cache_evictions_total",
      help: "The count of cache evictions.",
      labelNames: ["server", "type", "zones", "view"],
      registers: r,
    }),
    proxyDuration: new FastHistogramVec(
      registry,
      "coredns_proxy_request_duration_seconds",
      "Histogram of the time each request took.",
      ["proxy_name", "to", "rcode"],
      DURATION_BUCKETS,
    ),
    proxyHealthcheckFailures: new Counter({
      name: "coredns_proxy_healthcheck_failures_total",
      help: "Counter of the number of failed healthchecks.",
      labelNames: ["proxy_name", "to"],
      registers: r,
    }),
    forwardHealthcheckBroken: new Counter({
      name: "coredns_forward_healthcheck_broken_total",
      help: "Counter of the number of complete failures of the healthchecks.",
      registers: r,
    }),
    forwardMaxConcurrentRejects: new Counter({
      name: "coredns_forward_max_concurrent_rejects_total",
      help: "Counter of the number of queries rejected because the concurrent queries were at maximum.",
      registers: r,
    }),
    reloadFailed: new Counter({
      name: "coredns_reload_failed_total",
      help: "Counter of the number of failed reload attempts.",
      registers: r,
    }),
    buildInfo: new Gauge({
      name: "coredns_build_info",
      help: "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
      labelNames: ["version", "revision", "goversion"],
      registers: r,
      // Several workers aggregated into one scrape still report 1.
      aggregator: "first",
    }),
    // The health plugin's: here a self-probe round through the DNS sockets (CoreDNS: a GET of /health).
    healthDuration: new Histogram({
      name: "coredns_health_request_duration_seconds",
      help: "Histogram of the time (in seconds) each request took.",
      buckets: SLIM_DURATION_BUCKETS,
      registers: r,
    }),
    healthFailures: new Counter({
      name: "coredns_health_request_failures_total",
      help: "The number of times the health check failed.",
      registers: r,
    }),
    panics: new Counter({
      name: "coredns_panics_total",
      help: "A metrics that counts the number of panics.",
      registers: r,
    }),
    reloadVersionInfo: new Gauge({
      name: "coredns_reload_version_info",
      help: "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
      labelNames: ["hash", "value"],
      registers: r,
      aggregator: "first",
    }),
    // node-cache's own counter (served on -metrics-listen-address as node-cache does, and with the rest).
    nodecacheSetupErrors: new Counter({
      name: "coredns_nodecache_setup_errors_total",
      help: "The number of errors during periodic network setup for node-cache",
      labelNames: ["errortype"],
      registers: r,
    }),
    // The loop plugin's outcome: CoreDNS exits on a loop; we answer SERVFAIL for the block and count it.
    loopDetected: new Counter({
      name: "coredns_loop_detected_total",
      help: "Counter of forwarding loops detected per server block zone.",
      labelNames: ["server", "zone"],
      registers: r,
    }),
    loopActive: new Gauge({
      name: "coredns_loop_active",
      help: "1 while a detected forwarding loop makes the zone's server block answer SERVFAIL.",
      labelNames: ["server", "zone"],
      registers: r,
    }),
    // Ours, in the same style, for what CoreDNS lacks.
    inFlight: new Gauge({
      name: "coredns_nodelocaldns_inflight_queries",
      help: "Queries received and not yet answered.",
      registers: r,
    }),
    coalesced: new FastCounterVec(
      registry,
      "coredns_nodelocaldns_coalesced_queries_total",
      "Cache misses that joined an identical upstream query already in flight.",
      ["server", "zones", "view"],
    ),
    tcpConnections: new Gauge({
      name: "coredns_nodelocaldns_upstream_tcp_connections",
      help: "Pooled TCP connections open to each upstream.",
      labelNames: ["to"],
      registers: r,
    }),
    watchSynced: new Gauge({
      name: "coredns_kubernetes_watch_synced",
      help: "Whether the first full list of a resource has been applied (1) or not (0).",
      labelNames: ["resource"],
      registers: r,
    }),
    watchLastSync: new Gauge({
      name: "coredns_kubernetes_watch_last_sync_timestamp_seconds",
      help: "When a list or watch event last brought a resource up to date.",
      labelNames: ["resource"],
      registers: r,
    }),
    watchRestarts: new Counter({
      name: "coredns_kubernetes_watch_restarts_total",
      help: "Watches of a resource that failed or went silent and were restarted.",
      labelNames: ["resource"],
      registers: r,
    }),
    watchObjects: new Gauge({
      name: "coredns_kubernetes_watch_objects",
      help: "Objects of a resource held in the cluster index.",
      labelNames: ["resource"],
      registers: r,
    }),
    upstreamFailures: new Counter({
      name: "coredns_nodelocaldns_upstream_failures_total",
      help: "Upstream exchanges that got no reply (timeout) or failed (error), per upstream and protocol.",
      labelNames: ["to", "proto", "reason"],
      registers: r,
    }),
    dropped: new Counter({
      name: "coredns_nodelocaldns_dropped_packets_total",
      help: "Packets dropped without an answer because no DNS header could be read.",
      labelNames: ["server", "proto"],
      registers: r,
    }),
  };
  m.buildInfo.labels(...buildInfoLabels(version)).set(1);
  // node-cache initialises every errortype at 0 so that rate() and alerts see the series at once.
  for (const t of ["iptables", "iptables_lock", "interface_add", "interface_check", "configmap"]) {
    m.nodecacheSetupErrors.labels(t).inc(0);
  }
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** version, revision, goversion of coredns_build_info (goversion: the Node.js runtime, e.g. node24.1.0). */
export function buildInfoLabels(version: string): [string, string, string] {
  return [version, "", `node${process.versions.node}`];
}
