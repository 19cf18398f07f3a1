// From raw packet to chain: parse, reject what must be rejected, route, run. Per-query failures
// end here as SERVFAIL; nothing escapes to the socket handler.

import {
  equalsIgnoreCase,
  errorReply,
  PARSE_DROP,
  PARSE_FORMERR,
  parseQuery,
  RCODE,
  TYPE,
} from "../dns/index.ts";
import type { Query } from "./query.ts";
import type { Router } from "./router.ts";

export interface DispatchHooks {
  clock(): number;
  /** The liveness probe's private name (lowercase wire form): answered here, without the chain. */
  probeName: Buffer | null;
  dropped(query: Query): void;
  failed(query: Query, error: unknown): void;
}

export function dispatch(query: Query, packet: Buffer, router: Router, hooks: DispatchHooks): void {
  query.startedAt = hooks.clock();
  const parsed = parseQuery(packet, query);
  if (parsed === PARSE_DROP) {
    hooks.dropped(query);
    return;
  }
  if (query.transport.proto === "udp") query.limit = query.udpSize;
  try {
    if (parsed === PARSE_FORMERR) {
      query.sendFinal(errorReply(query, RCODE.FORMERR));
      return;
    }
    if (query.opcode !== 0) {
      query.sendFinal(errorReply(query, RCODE.NOTIMP));
      return;
    }
    if (query.qtype === TYPE.AXFR || query.qtype === TYPE.IXFR) {
      query.sendFinal(errorReply(query, RCODE.REFUSED));
      return;
    }
    const probe = hooks.probeName;
    if (
      probe !== null &&
      query.qnameEnd - 12 === probe.length &&
      equalsIgnoreCase(packet, 12, probe, 0, probe.length)
    ) {
      query.sendFinal(errorReply(query, RCODE.NOERROR));
      return;
    }
    const route = router.route(packet, query.qnameEnd);
    if (route === undefined) {
      query.sendFinal(errorReply(query, RCODE.REFUSED));
      return;
    }
    query.zoneMetrics = route.metrics;
    route.entry(query);
  } catch (error) {
    hooks.failed(query, error);
    if (!query.answered) query.sendFinal(errorReply(query, RCODE.SERVFAIL));
  }
}
