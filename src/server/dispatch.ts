// From raw packet to chain: parse, reject what must be rejected, route, run. Per-query failures
// end here as SERVFAIL; nothing escapes to the socket handler.

import { errorReply, PARSE_DROP, PARSE_FORMERR, parseQuery, RCODE, TYPE } from "../dns/index.ts";
import type { ControlNames } from "./control.ts";
import type { Query } from "./query.ts";
import type { Router } from "./router.ts";

export interface DispatchHooks {
  clock(): number;
  /** Control names (self-probe, handoff probe): answered or dropped here, without the chain. */
  control: ControlNames | null;
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
    const control = hooks.control?.classify(packet, query.qnameEnd) ?? null;
    if (control !== null) {
      if (control === "own-handoff") hooks.dropped(query);
      else query.sendFinal(errorReply(query, control === "health" ? RCODE.NOERROR : RCODE.NXDOMAIN));
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
