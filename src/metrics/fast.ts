// Counters and histograms for the per-query path. prom-client hashes a label object on every
// inc/observe; these keep one plain cell per label set, resolved once, and only build label
// objects when scraped. They register with a prom-client Registry like any metric.

import type { Registry } from "./prom.ts";

interface MetricValue {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) out[names[i]!] = values[i]!;
  return out;
}

export class CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounterVec {
  readonly name: string;
  readonly help: string;
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly labelNames: readonly string[];
  private readonly cells = new Map<string, { values: string[]; cell: CounterCell }>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as never);
  }

  /** The cell for these label values; resolve once and keep it. */
  labels(...values: string[]): CounterCell {
    const key = values.join("\u0000");
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { values, cell: new CounterCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  get() {
    const values: MetricValue[] = [];
    for (const { values: lv, cell } of this.cells.values()) {
      values.push({ labels: labelObject(this.labelNames, lv), value: cell.value });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly upper: Float64Array;

  constructor(upper: Float64Array) {
    this.upper = upper;
    this.counts = new Float64Array(upper.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const upper = this.upper;
    for (let i = 0; i < upper.length; i++) {
      if (value <= upper[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class FastHistogramVec {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly labelNames: readonly string[];
  private readonly upper: Float64Array;
  private readonly cells = new Map<string, { values: string[]; cell: HistogramCell }>();

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: number[],
  ) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.upper = Float64Array.from(buckets);
    registry.registerMetric(this as never);
  }

  labels(...values: string[]): HistogramCell {
    const key = values.join("\u0000");
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { values, cell: new HistogramCell(this.upper) };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  get() {
    const values: MetricValue[] = [];
    for (const { values: lv, cell } of this.cells.values()) {
      const labels = labelObject(this.labelNames, lv);
      let cumulative = 0;
      for (let i = 0; i < this.upper.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({
          labels: { ...labels, le: String(this.upper[i]) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        labels: { ...labels, le: "+Inf" },
        value: cell.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
