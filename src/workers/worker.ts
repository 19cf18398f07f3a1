// A worker's side of the cluster protocol: heartbeats with readiness, metrics on request, and the
// shutdown the primary relays.

import type { Daemon } from "../daemon/index.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { HEARTBEAT_MS, isMessage, type ToPrimary, type ToWorker } from "./protocol.ts";

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
    } else if (message.type === "nl:shutdown" && !stopping) {
      stopping = true;
      onStop();
      daemon.shutdown().then(
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
