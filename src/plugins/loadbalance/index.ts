// `loadbalance [round_robin]` (CoreDNS): every NOERROR reply of the block, cache hits included (the
// plugin sits before the cache), leaves with its A/AAAA and MX records in a random order.

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import { RCODE_MASK, shuffleRecords } from "../../dns/index.ts";
import type { Handler, Next, Query } from "../../server/index.ts";
import { definePlugin } from "../types.ts";

export interface LoadbalanceConfig {
  policy: "round_robin";
  line: number;
}

const USAGE = "loadbalance [round_robin]";

export function parseLoadbalance(ctx: BuildContext, d: Directive): LoadbalanceConfig {
  const r = new Reader(ctx, d, USAGE);
  const policy = d.args[0];
  if (policy?.text === "weighted") {
    r.fail(policy.line, "the weighted policy (a weight file) is not supported by nodelocaldns");
  }
  r.count(d.args, 0, 1, d.line);
  if (policy !== undefined && policy.text !== "round_robin")
    r.fail(policy.line, `unknown policy "${policy.text}"`);
  if (d.block !== null) {
    const first = d.block[0];
    r.fail(
      first?.line ?? d.line,
      `option "${first?.name ?? "{"}" is not supported (prefer is not implemented)`,
    );
  }
  return { policy: "round_robin", line: d.line };
}

/** Shuffles in place, on the reply buffer about to be sent: no copy, no decode. */
export function shuffleReply(reply: Buffer): void {
  if (reply.length < 12 || (reply[3]! & RCODE_MASK) !== 0) return;
  shuffleRecords(reply, reply.length);
}

export class LoadbalancePlugin implements Handler {
  readonly name = "loadbalance" as const;

  handle(query: Query, next: Next): void {
    query.replyFilter = shuffleReply;
    next(query);
  }
}

export const loadbalancePlugin = definePlugin<LoadbalanceConfig>({
  name: "loadbalance",
  repeatable: false,
  parse: parseLoadbalance,
  // Nothing heavy behind this handler: it stays in this module.
  async load() {
    return () => new LoadbalancePlugin();
  },
});
