// How glibc's resolver walks a search list (res_search in resolv/res_query.c): which names it asks,
// in which order, and which answers end the walk. Pure.

import { canonicalName } from "../dns/index.ts";

/**
 * The names asked for `name`: a trailing dot means only the name itself; with at least `ndots`
 * dots the name itself first, then each search domain; with fewer, the search domains first and
 * the name itself last. Names longer than 255 bytes are skipped, as the resolver does.
 */
export function searchOrder(name: string, search: readonly string[], ndots: number): string[] {
  if (name.endsWith(".")) return [canonicalName(name)];
  const asIs = canonicalName(name);
  const dots = name.split(".").length - 1;
  const expanded = search.map((domain) => (domain === "." ? asIs : `${asIs}${canonicalName(domain)}`));
  const order = dots >= ndots ? [asIs, ...expanded] : [...expanded, asIs];
  return [...new Set(order)].filter((n) => n.length <= 254);
}

/**
 * Whether an answer ends the walk: a positive answer does (success), and so does an error the
 * resolver will not retry elsewhere (REFUSED, FORMERR, NOTIMP); NXDOMAIN, NODATA and SERVFAIL go
 * on to the next name.
 */
export function endsSearch(rcode: string, answerCount: number): boolean {
  if (rcode === "NOERROR") return answerCount > 0;
  return rcode !== "NXDOMAIN" && rcode !== "SERVFAIL";
}

/** What the resolver reports after asking every name without success (glibc's precedence). */
export function exhaustedRcode(rcodes: readonly string[]): string {
  if (rcodes.includes("NOERROR")) return "NOERROR"; // NODATA somewhere wins
  if (rcodes.includes("SERVFAIL")) return "SERVFAIL";
  return rcodes[rcodes.length - 1] ?? "NXDOMAIN";
}
