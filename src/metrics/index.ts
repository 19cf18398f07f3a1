// Prometheus metrics with CoreDNS-compatible names.
export { typeLabel, ZoneMetrics } from "./query-metrics.ts";
export { createMetrics, type Metrics } from "./registry.ts";
export { startMetricsServer } from "./http.ts";
