// Messages between the primary and its workers (over the cluster IPC channel).

import type { MetricObjectWithValues, MetricValue } from "prom-client";
import type { ExplainRequest } from "../explain/index.ts";
import type { ResourceKind, WatchTarget } from "../kubeapi/index.ts";

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** One `explain`/`cache` request the primary's debug endpoint passes to a worker. */
export type DebugCall =
  | { op: "explain"; request: ExplainRequest }
  | { op: "cache-show"; name: string }
  | { op: "cache-flush"; name: string };

/**
 * A watch event as it crosses the IPC channel: the object as its JSON text (what the primary keeps
 * for snapshots: a flat string is a fraction of the object graph), a prune's key set as a list.
 */
export type WireEvent =
  | { type: "upsert" | "delete"; kind: ResourceKind; json: string }
  | { type: "prune"; kind: ResourceKind; keep: string[] };

/** What a worker asks the primary to watch for one of its cluster indexes. */
export interface WatchSpec {
  target: WatchTarget;
  kinds: ResourceKind[];
}

export type ToWorker =
  | { type: "nl:metrics-req"; id: number }
  | { type: "nl:debug-req"; id: number; call: DebugCall }
  /** Events of the primary's watch for the worker's subscription `id`, in order. */
  | { type: "nl:watch-events"; id: number; events: WireEvent[] }
  /** SIGTERM reached the primary: lameduck, hand over or stop, then exit. */
  | { type: "nl:shutdown"; workerPids: number[] };

export type ToPrimary =
  | { type: "nl:metrics-res"; id: number; metrics: MetricsJson }
  /** The answer to a debug call: its result, or the error (message and ErrorCode). */
  | { type: "nl:debug-res"; id: number; result?: unknown; error?: { message: string; code: string } }
  /** Sent every HEARTBEAT_MS from the worker's event loop: it is alive and says if it is ready. */
  | { type: "nl:state"; listening: boolean; ready: boolean }
  | { type: "nl:exiting"; handedOff: boolean }
  /** Subscribe to the primary's watch of `spec` (started on first use): a snapshot, then changes. */
  | { type: "nl:watch-open"; id: number; spec: WatchSpec }
  | { type: "nl:watch-close"; id: number };

export const HEARTBEAT_MS = 500;
/** A worker silent this long is wedged: /health turns red. */
export const WEDGED_AFTER_MS = 3000;
/** ...and this long: it is killed and replaced. */
export const KILL_AFTER_MS = 10_000;

export function isMessage<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === "object" &&
    message !== null &&
    typeof (message as { type?: unknown }).type === "string"
  );
}
