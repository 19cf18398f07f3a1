// Prometheus metrics with CoreDNS-compatible names.

export { startMetricsServer } from "./http.ts";
export { typeLabel, ZoneMetrics } from "./query-metrics.ts";
export { createMetrics, type Metrics } from "./registry.ts";
