// From raw packet to chain: parse, reject what must be rejected, route, run. Per-query failures
// end here as SERVFAIL; nothing escapes to the socket handler.

import {
  CLASS_IN,
  errorReply,
  PARSE_BADVERS,
  PARSE_DROP,
  PARSE_FORMERR,
  PARSE_NOTIMP,
  PARSE_OK,
  parseQuery,
  RCODE,
  TYPE,
} from "../dns/index.ts";
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

const REJECTED_RCODE = {
  [PARSE_FORMERR]: RCODE.FORMERR,
  [PARSE_NOTIMP]: RCODE.NOTIMP,
  [PARSE_BADVERS]: RCODE.BADVERS,
} as const;

export function dispatch(query: Query, packet: Buffer, router: Router, hooks: DispatchHooks): void {
  query.startedAt = hooks.clock();
  const parsed = parseQuery(packet, query);
  if (parsed === PARSE_DROP) {
    hooks.dropped(query);
    return;
  }
  if (query.transport.proto === "udp") query.limit = query.udpSize;
  try {
    // Refusals in CoreDNS's order: opcode, then the message's shape, then EDNS version and class,
    // all before any lookup.
    if (parsed !== PARSE_OK) {
      query.sendFinal(errorReply(query, REJECTED_RCODE[parsed]));
      return;
    }
    if (
      (query.qclass !== CLASS_IN && !router.anyClass) ||
      query.qtype === TYPE.AXFR ||
      query.qtype === TYPE.IXFR
    ) {
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
    query.sendFailure(() => errorReply(query, RCODE.SERVFAIL));
  }
}
