// prom-client's classes, each loaded from its own file: its index also loads Pushgateway (and with
// it node:https) and the default-metrics collectors, ~7 MiB resident that nothing here uses.
// The types still come from the package's declarations.

import { createRequire } from "node:module";
import type * as Prom from "prom-client";

const load = createRequire(import.meta.url);

export const Registry = load("prom-client/lib/registry.js") as typeof Prom.Registry;
export const Counter = load("prom-client/lib/counter.js") as typeof Prom.Counter;
export const Gauge = load("prom-client/lib/gauge.js") as typeof Prom.Gauge;
export const Histogram = load("prom-client/lib/histogram.js") as typeof Prom.Histogram;
/** Only the primary of -workers N sums its workers' registries: loaded on its first scrape. */
export function aggregate(metrics: Prom.MetricObjectWithValues<Prom.MetricValue<string>>[][]): Prom.Registry {
  const AggregatorRegistry = load("prom-client/lib/cluster.js") as typeof Prom.AggregatorRegistry;
  return AggregatorRegistry.aggregate(metrics);
}

/** The registry's metric NAME, made by `create` on first use (a handler rebuilt on reload reuses it). */
export function registered<M>(registry: Prom.Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
