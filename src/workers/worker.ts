// A worker's side of the cluster protocol: heartbeats with readiness, metrics on request, and the
// shutdown the primary relays.

import type { Daemon } from "../daemon/index.ts";
import { DaemonError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { type DebugCall, HEARTBEAT_MS, isMessage, type ToPrimary, type ToWorker } from "./protocol.ts";

/** Run a debug call from the primary on this worker's chains. */
function runDebug(daemon: Daemon, call: DebugCall): Promise<unknown> {
  const explainer = daemon.explainer;
  if (call.op === "explain") return explainer.explain(call.request);
  if (call.op === "cache-show") return explainer.cacheShow(call.name);
  return explainer.cacheFlush(call.name);
}

export function attachWorker(daemon: Daemon, metrics: Metrics, log: Logger, onStop: () => void): void {
  const send = (message: ToPrimary) => {
    if (process.connected) process.send?.(message);
  };
  const beat = () => send({ type: "nl:state", listening: true, ready: daemon.isReady });
  beat();
  setInterval(beat, HEARTBEAT_MS).unref();
  let stopping = false;
  process.on("message", (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    if (message.type === "nl:metrics-req") {
      metrics.registry.getMetricsAsJSON().then(
        (json) => send({ type: "nl:metrics-res", id: message.id, metrics: json }),
        () => send({ type: "nl:metrics-res", id: message.id, metrics: [] }),
      );
    } else if (message.type === "nl:debug-req") {
      runDebug(daemon, message.call).then(
        (result) => send({ type: "nl:debug-res", id: message.id, result }),
        (error: unknown) =>
          send({
            type: "nl:debug-res",
            id: message.id,
            error: {
              message: (error as Error).message,
              code: error instanceof DaemonError ? error.code : "EXPLAIN_UNAVAILABLE",
            },
          }),
      );
    } else if (message.type === "nl:shutdown" && !stopping) {
      stopping = true;
      onStop();
      daemon.shutdown(undefined, message.workerPids).then(
        ({ handedOff }) => {
          send({ type: "nl:exiting", handedOff });
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, "worker stop failed");
          process.exit(1);
        },
      );
    }
  });
  // The primary went away without telling us: stop serving rather than linger.
  process.on("disconnect", () => {
    if (!stopping) process.exit(0);
  });
}
