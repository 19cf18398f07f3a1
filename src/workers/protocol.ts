// Messages between the primary and its workers (over the cluster IPC channel).

import type { MetricObjectWithValues, MetricValue } from "prom-client";
import type { ExplainRequest } from "../explain/index.ts";

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** One `explain`/`cache` request the primary's debug endpoint passes to a worker. */
export type DebugCall =
  | { op: "explain"; request: ExplainRequest }
  | { op: "cache-show"; name: string }
  | { op: "cache-flush"; name: string };

export type ToWorker =
  | { type: "nl:metrics-req"; id: number }
  | { type: "nl:debug-req"; id: number; call: DebugCall }
  /** SIGTERM reached the primary: lameduck, hand over or stop, then exit. */
  | { type: "nl:shutdown" };

export type ToPrimary =
  | { type: "nl:metrics-res"; id: number; metrics: MetricsJson }
  /** The answer to a debug call: its result, or the error (message and ErrorCode). */
  | { type: "nl:debug-res"; id: number; result?: unknown; error?: { message: string; code: string } }
  /** Sent every HEARTBEAT_MS from the worker's event loop: it is alive and says if it is ready. */
  | { type: "nl:state"; listening: boolean; ready: boolean }
  | { type: "nl:exiting"; handedOff: boolean };

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
