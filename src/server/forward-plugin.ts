// Forwarding in the chain: names within FROM (and not excepted) go to the upstream pool.

import { errorReply, RCODE, upstreamQuery } from "../dns/index.ts";
import type { ForwardCallback, Forwarder } from "../forward/index.ts";
import { deliver, type Handler, type Next } from "./chain.ts";
import type { Query } from "./query.ts";

export class ForwardPlugin implements Handler {
  readonly name = "forward" as const;
  readonly forwarder: Forwarder;
  private readonly onError: (error: unknown) => void;
  /** One callback for every query (the query comes back as the context): no closure per query. */
  private readonly done: ForwardCallback;

  constructor(forwarder: Forwarder, onError: (error: unknown) => void) {
    this.forwarder = forwarder;
    this.onError = onError;
    this.done = (outcome, context) => {
      const query = context as Query;
      query.plugin = "forward";
      try {
        if (outcome.kind === "reply") {
          query.upstream = outcome.upstream;
          deliver(query, outcome.reply);
        } else {
          deliver(query, errorReply(query, outcome.kind === "refused" ? RCODE.REFUSED : RCODE.SERVFAIL));
        }
      } catch (error) {
        // Per-query failures end here: this runs from a socket callback, outside dispatch's guard.
        this.onError(error);
        query.sendFailure(() => errorReply(query, RCODE.SERVFAIL));
      }
    };
  }

  handle(query: Query, next: Next): void {
    if (!this.forwarder.handles(query.buf, 12, query.qnameEnd)) {
      next(query);
      return;
    }
    this.forwarder.query(upstreamQuery(query, 0), this.done, query.transport.proto, query);
  }

  close(): Promise<void> {
    return this.forwarder.close();
  }
}
