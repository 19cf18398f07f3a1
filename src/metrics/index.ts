// Prometheus metrics with CoreDNS-compatible names.

export { listenHttp, type MetricsSource, splitHostPort, startMetricsServer } from "./http.ts";
export { aggregate as aggregateMetrics } from "./prom.ts";
export { familyOf, typeLabel, ZoneMetrics } from "./query-metrics.ts";
export {
  buildInfoLabels,
  createMetrics,
  DURATION_BUCKETS,
  type Metrics,
  type MetricsOptions,
  SIZE_BUCKETS,
  SLIM_DURATION_BUCKETS,
} from "./registry.ts";
