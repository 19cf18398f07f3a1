// Per-server-and-zone metric handles with label children resolved once, so counting a query is a
// few array lookups and increments rather than a label hash per call.

import { rcodeName, typeName } from "../dns/index.ts";
import type { CounterCell, HistogramCell } from "./fast.ts";
import type { Metrics } from "./registry.ts";

// The query types CoreDNS reports by name; every other type is "other" (plugin/metrics/vars/monitor.go).
const MONITORED_TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 46, 47, 48, 50, 65, 251, 252, 255];
const NSEC3 = 50;
/** qtype -> slot in the per-(proto, family, type) table; 0 = "other". */
const TYPE_SLOT = new Uint8Array(256);
MONITORED_TYPES.forEach((t, i) => {
  TYPE_SLOT[t] = i + 1;
});
const TYPE_SLOTS = MONITORED_TYPES.length + 1;

export function typeLabel(qtype: number): string {
  if (qtype > 255 || TYPE_SLOT[qtype] === 0) return "other";
  return qtype === NSEC3 ? "NSEC3" : typeName(qtype);
}

/**
 * CoreDNS's `family` is the client address's: an IPv4 client reaching a dual-stack (::) socket
 * arrives as ::ffff:a.b.c.d and is family 1.
 */
export function familyOf(listenerFamily: 1 | 2, remoteAddress: string): 1 | 2 {
  return listenerFamily === 2 && remoteAddress.startsWith("::ffff:") ? 1 : listenerFamily;
}

/** Metric handles for one (server, zone) pair. */
export class ZoneMetrics {
  private readonly metrics: Metrics;
  readonly server: string;
  readonly zone: string;
  /** Index: ((tcp * 2 + family - 1) * TYPE_SLOTS + typeSlot). */
  private readonly requests: (CounterCell | undefined)[] = new Array(4 * TYPE_SLOTS);
  /** Index: rcode (0..15) * 8 + plugin index (0..7). */
  private readonly responses: (CounterCell | undefined)[] = new Array(16 * 32);
  private readonly duration: HistogramCell;
  private readonly doRequests: CounterCell;
  private readonly requestSize: HistogramCell[];
  private readonly responseSize: HistogramCell[];

  constructor(metrics: Metrics, server: string, zone: string) {
    this.metrics = metrics;
    this.server = server;
    this.zone = zone;
    this.duration = metrics.duration.labels(server, zone, "");
    this.doRequests = metrics.doRequests.labels(server, zone, "");
    this.requestSize = ["udp", "tcp"].map((proto) => metrics.requestSize.labels(server, zone, "", proto));
    this.responseSize = ["udp", "tcp"].map((proto) => metrics.responseSize.labels(server, zone, "", proto));
  }

  request(qtype: number, tcp: boolean, family: 1 | 2, size: number, dnssecOk = false): void {
    const slot = qtype > 255 ? 0 : TYPE_SLOT[qtype]!;
    const key = ((tcp ? 2 : 0) + family - 1) * TYPE_SLOTS + slot;
    let child = this.requests[key];
    if (child === undefined) {
      child = this.metrics.requests.labels(
        this.server,
        this.zone,
        "",
        tcp ? "tcp" : "udp",
        String(family),
        typeLabel(qtype),
      );
      this.requests[key] = child;
    }
    child.inc();
    if (dnssecOk) this.doRequests.inc();
    this.requestSize[tcp ? 1 : 0]!.observe(size);
  }

  response(
    rcode: number,
    plugin: string,
    pluginIndex: number,
    tcp: boolean,
    size: number,
    seconds: number,
  ): void {
    // Five bits of plugin index: CHAIN_ORDER has fewer than 32 entries.
    const key = ((rcode & 15) << 5) | (pluginIndex & 31);
    let child = this.responses[key];
    if (child === undefined) {
      child = this.metrics.responses.labels(this.server, this.zone, "", rcodeName(rcode & 15), plugin);
      this.responses[key] = child;
    }
    child.inc();
    this.duration.observe(seconds);
    this.responseSize[tcp ? 1 : 0]!.observe(size);
  }
}
