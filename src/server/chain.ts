// The order of the chain, declared once, as data; and its composition per server block.

import { errorReply, FLAG_AA, RCODE, renderStored, scanReply, toStored } from "../dns/index.ts";
import type { Query } from "./query.ts";

/**
 * Every block runs its plugins in exactly this order; absent ones cost nothing (they are not in the
 * composed chain). The order is CoreDNS's plugin.cfg for the plugins that handle queries, with one
 * deliberate difference: `loop` runs before `cache` (CoreDNS: after `kubernetes`), because our loop
 * detector keeps serving (SERVFAIL for the looping block) instead of exiting the process, and its
 * probes must not be coalesced by the cache's in-flight table. Setup-only directives (bind, health,
 * ready, reload, errors, log, timeouts, debug, pprof) are not in the chain.
 */
export const CHAIN_ORDER = [
  "metrics",
  "bufsize",
  "dns64",
  "loadbalance",
  "rewrite",
  "loop",
  "cache",
  "template",
  "hosts",
  "kubernetes",
  "forward",
  "whoami",
] as const;

export type PluginName = (typeof CHAIN_ORDER)[number];

/** The index used for the `plugin` response label ("" for the server itself). */
export function pluginIndex(name: string): number {
  return (CHAIN_ORDER as readonly string[]).indexOf(name) + 1;
}

export type Next = (query: Query) => void;

export interface Handler {
  readonly name: PluginName;
  handle(query: Query, next: Next): void;
  close?(): Promise<void> | void;
}

/** Compose handlers (in CHAIN_ORDER) into one entry function; `end` runs when all pass. */
export function composeChain(handlers: readonly Handler[], end: Next): Next {
  const ordered = [...handlers].sort((a, b) => CHAIN_ORDER.indexOf(a.name) - CHAIN_ORDER.indexOf(b.name));
  let next = end;
  for (let i = ordered.length - 1; i >= 0; i--) {
    const handler = ordered[i]!;
    const after = next;
    next = (query) => handler.handle(query, after);
  }
  return next;
}

/**
 * Hand a downstream reply (upstream bytes or a built answer, any ID, any OPT) back up: to the cache's
 * flight when one waits for it, else rendered for this client (ID, spelling, OPT, UDP limit).
 */
export function deliver(query: Query, reply: Buffer): void {
  if (query.interceptor !== null) {
    query.interceptor.complete(query, reply);
    return;
  }
  if (query.clientReady && reply.length <= query.limit) {
    query.sendFinal(reply);
    return;
  }
  const scan = scanReply(reply);
  const stored = scan === null ? null : toStored(reply, scan);
  if (stored === null) {
    query.sendFinal(errorReply(query, RCODE.SERVFAIL));
    return;
  }
  const authoritative = (reply.readUInt16BE(2) & FLAG_AA) !== 0;
  query.sendFinal(renderStored(stored, query, 0, authoritative, query.limit));
}

/** The answer when no plugin handled the query (CoreDNS: SERVFAIL, "no next plugin found"). */
export const endOfChain: Next = (query) => {
  query.plugin = "";
  deliver(query, errorReply(query, RCODE.SERVFAIL));
};
