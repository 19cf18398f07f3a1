// Per-server-and-zone metric handles with label children resolved once, so counting a query is a
// few array lookups and increments rather than a label hash per call.

import { rcodeName, typeName } from "../dns/index.ts";
import type { CounterCell, HistogramCell } from "./fast.ts";
import type { Metrics } from "./registry.ts";

// The query types CoreDNS reports by name; every other type is "other" (plugin/metrics/vars).
const MONITORED_TYPES = new Set([1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 46, 47, 48, 50, 65, 251, 252, 255]);
const NSEC3 = 50;

export function typeLabel(qtype: number): string {
  if (!MONITORED_TYPES.has(qtype)) return "other";
  return qtype === NSEC3 ? "NSEC3" : typeName(qtype);
}

type CounterChild = CounterCell;
type HistogramChild = HistogramCell;

/** Metric handles for one (server, zone) pair. */
export class ZoneMetrics {
  private readonly metrics: Metrics;
  readonly server: string;
  readonly zone: string;
  private readonly requests = new Map<number, CounterChild>();
  private readonly responses = new Map<number, CounterChild>();
  private readonly durations = new Map<number, HistogramChild>();
  private readonly requestSize: HistogramChild[];
  private readonly responseSize: HistogramChild[];

  constructor(metrics: Metrics, server: string, zone: string) {
    this.metrics = metrics;
    this.server = server;
    this.zone = zone;
    this.requestSize = ["udp", "tcp"].map((proto) => metrics.requestSize.labels(server, zone, "", proto));
    this.responseSize = ["udp", "tcp"].map((proto) => metrics.responseSize.labels(server, zone, "", proto));
  }

  request(qtype: number, tcp: boolean, family: 1 | 2, size: number): void {
    const known = MONITORED_TYPES.has(qtype) ? qtype : 0;
    const key = (known << 3) | (tcp ? 4 : 0) | family;
    let child = this.requests.get(key);
    if (child === undefined) {
      child = this.metrics.requests.labels(
        this.server,
        this.zone,
        "",
        tcp ? "tcp" : "udp",
        String(family),
        typeLabel(qtype),
      );
      this.requests.set(key, child);
    }
    child.inc();
    this.requestSize[tcp ? 1 : 0]!.observe(size);
  }

  response(
    qtype: number,
    rcode: number,
    plugin: string,
    pluginIndex: number,
    tcp: boolean,
    size: number,
    seconds: number,
  ): void {
    const rkey = (rcode << 4) | pluginIndex;
    let child = this.responses.get(rkey);
    if (child === undefined) {
      child = this.metrics.responses.labels(this.server, this.zone, "", rcodeName(rcode), plugin);
      this.responses.set(rkey, child);
    }
    child.inc();
    const known = MONITORED_TYPES.has(qtype) ? qtype : 0;
    let duration = this.durations.get(known);
    if (duration === undefined) {
      duration = this.metrics.duration.labels(this.server, this.zone, "", typeLabel(qtype));
      this.durations.set(known, duration);
    }
    duration.observe(seconds);
    this.responseSize[tcp ? 1 : 0]!.observe(size);
  }
}
