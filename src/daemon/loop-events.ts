// The loop plugin's events as log lines and metrics (coredns_loop_detected_total, coredns_loop_active).

import net from "node:net";
import type { ServerBlock } from "../config/types.ts";
import type { Logger } from "../log/index.ts";
import type { LoopEvents } from "../loop/index.ts";
import type { Metrics } from "../metrics/index.ts";

export function serverLabel(block: ServerBlock): string {
  const host = block.bind[0];
  if (host === undefined) return `dns://:${block.port}`;
  return `dns://${net.isIPv6(host) ? `[${host}]` : host}:${block.port}`;
}

export function loopEvents(block: ServerBlock, log: Logger, metrics: Metrics): LoopEvents {
  const server = serverLabel(block);
  return {
    detected(info) {
      metrics.loopDetected.labels(server, info.zone).inc();
      metrics.loopActive.labels(server, info.zone).set(1);
      log.error(
        {
          server,
          zone: info.zone,
          upstreams: info.upstreams,
          from: info.from,
          query: `HINFO ${info.name}`,
          block: `${block.file}:${block.line}`,
        },
        `Loop (${info.from} -> ${server}) detected for zone "${info.zone}" (server block at ${block.file}:${block.line}, forwarding to ${
          info.upstreams.join(" ") || "nothing"
        }): its queries come back to it. Answering SERVFAIL for this block until the loop is gone; see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO ${info.name}"`,
      );
    },
    cleared(zone) {
      metrics.loopActive.labels(server, zone).set(0);
      log.info({ server, zone }, `loop for zone "${zone}" on ${server} is gone; serving again`);
    },
    inconclusive(zone) {
      log.warn(
        { server, zone },
        `loop check for zone "${zone}" on ${server} got no answer within its deadline; not checked`,
      );
    },
  };
}
