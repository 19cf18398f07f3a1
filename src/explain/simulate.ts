// One name through its server block's chain, looked at rather than run: which step would answer and
// with what, read from the cache (lookupInfo: no hit, no recency), the cluster index (peek: nothing
// resolved) and the forwarder's upstream list (nothing sent). Changes nothing and counts nothing.

import { buildQuery, PARSE_OK, parseQuery, QueryView, rcodeName, typeName } from "../dns/index.ts";
import type { LoopHandler } from "../loop/index.ts";
import { matchZone } from "../plugins/zones.ts";
import type { CachePlugin, ForwardPlugin, Handler, KubernetesPlugin, Route } from "../server/index.ts";
import { readReply } from "./answers.ts";
import type { ExplainStep } from "./types.ts";

/** The handlers of a route by name (absent ones undefined). */
export function handlersOf(route: { handlers: readonly Handler[] }) {
  const find = <T extends Handler>(name: Handler["name"]) =>
    route.handlers.find((h) => h.name === name) as T | undefined;
  return {
    loop: find<LoopHandler>("loop"),
    cache: find<CachePlugin>("cache"),
    kubernetes: find<KubernetesPlugin>("kubernetes"),
    forward: find<ForwardPlugin>("forward"),
  };
}

/** A parsed plain query for a canonical name. */
export function viewOf(wire: Buffer, qtype: number): QueryView {
  const view = new QueryView();
  if (parseQuery(buildQuery(0, wire, qtype), view) !== PARSE_OK) throw new RangeError("unreadable name");
  return view;
}

export function blankStep(name: string, qtype: number, route: Route | undefined): ExplainStep {
  return {
    name,
    type: typeName(qtype),
    block: route === undefined ? null : route.block.zones.join(" "),
    answeredBy: "none",
    rcode: null,
    ttl: null,
    stale: false,
    upstream: null,
    asked: false,
    ms: null,
    answers: [],
    note: "",
  };
}

/** The upstream the forwarder would try first: by its policy, among the healthy ones. */
export function wouldAsk(forward: ForwardPlugin): string {
  const all = forward.forwarder.upstreams();
  const healthy = all.filter((u) => u.healthy);
  const pool = (healthy.length > 0 ? healthy : all).map((u) => u.address);
  if (forward.forwarder.config.policy === "sequential" || pool.length === 1) return pool[0]!;
  return pool.join(" or ");
}

/** Fill `step` from an index or built reply. */
function fromReply(
  step: ExplainStep,
  reply: Buffer,
  by: ExplainStep["answeredBy"],
  note: string,
): ExplainStep {
  const read = readReply(reply);
  return { ...step, answeredBy: by, rcode: read.rcode, ttl: read.ttl, answers: read.answers, note };
}

/** After the cache: the cluster index, else the forwarder, else the end of the chain (SERVFAIL). */
function downstream(route: Route, view: QueryView, step: ExplainStep): ExplainStep {
  const { kubernetes, forward } = handlersOf(route);
  const local = kubernetes?.records.peek(view) ?? null;
  if (local !== null) {
    const external = step.type === "A" || step.type === "AAAA";
    const read = readReply(local);
    const note =
      read.cname !== null && external && read.answers.length === 1
        ? "ExternalName: the target is resolved through this daemon when asked (not done here)"
        : "answered from the in-process cluster index";
    return fromReply(step, local, "kubernetes", note);
  }
  if (forward?.forwarder.handles(view.buf, 12, view.qnameEnd)) {
    const zones = route.block.kubernetes?.zones ?? [];
    const inIndex = matchZone(zones, step.name) !== null;
    const why =
      kubernetes === undefined || !inIndex
        ? ""
        : kubernetes.records.synced
          ? " (the index leaves it to kube-dns: fallthrough or an unverified pod)"
          : " (the cluster index is not synced yet)";
    return {
      ...step,
      answeredBy: "forward",
      upstream: wouldAsk(forward),
      note: `would be forwarded${why}; not asked (use --live to ask)`,
    };
  }
  return { ...step, answeredBy: "none", rcode: "SERVFAIL", note: "no plugin of the block handles it" };
}

export interface SimulatedClient {
  namespace: string | null;
}

/** The whole chain for one name, as a query from `client` would go through it now. */
export function simulate(
  route: Route | undefined,
  name: string,
  wire: Buffer,
  qtype: number,
  client: SimulatedClient,
): ExplainStep {
  const step = blankStep(name, qtype, route);
  if (route === undefined)
    return { ...step, rcode: rcodeName(5), note: "no server block serves this name: REFUSED" };
  const view = viewOf(wire, qtype);
  const { loop, cache, kubernetes } = handlersOf(route);
  if (loop?.looping)
    return { ...step, answeredBy: "loop", rcode: "SERVFAIL", note: "forwarding loop detected" };
  let staleNote = "";
  if (cache?.covers(view)) {
    const info = cache.cache.lookupInfo(name, qtype);
    if (info !== null && (!info.stale || cache.cache.config.serveStale?.mode === "immediate")) {
      return {
        ...step,
        answeredBy: "cache",
        rcode: rcodeName(info.rcode),
        ttl: info.ttlLeft,
        stale: info.stale,
        kind: info.kind,
        note: `cache hit (${info.kind}${info.stale ? ", stale: served with TTL 0 and refreshed" : ""}, ${info.hits} hits so far)`,
      };
    }
    if (info !== null) staleNote = " (a stale cached entry is served only if the upstream fails)";
  }
  if (kubernetes?.autopath && client.namespace !== null) {
    const candidates = kubernetes.records.autopathFor(view, client.namespace);
    if (candidates !== null) return autopath(route, view, step, candidates);
  }
  const out = downstream(route, view, step);
  return staleNote === "" ? out : { ...out, note: out.note + staleNote };
}

/**
 * autopath @kubernetes: the asked name, then each remaining search-path name through the index or
 * the forwarder (not the cache), the first that exists answering as `<asked> CNAME <found>`.
 */
function autopath(
  route: Route,
  view: QueryView,
  step: ExplainStep,
  candidates: readonly { name: string; wire: Buffer }[],
): ExplainStep {
  const first = downstream(route, view, step);
  if (first.rcode === null || !rejected(first)) return first;
  const tried: ExplainStep[] = [];
  for (const candidate of candidates) {
    const inner = downstream(
      route,
      viewOf(candidate.wire, view.qtype),
      blankStep(candidate.name, view.qtype, route),
    );
    tried.push(inner);
    if (inner.rcode === null) {
      return {
        ...step,
        answeredBy: "autopath",
        upstream: inner.upstream,
        autopath: tried,
        note: `autopath: ${candidate.name} would be forwarded to ${inner.upstream}; not asked (use --live)`,
      };
    }
    if (!rejected(inner)) {
      const [owner, ttl] = inner.answers[0]?.split(" ") ?? [];
      const cname = owner !== undefined && owner !== step.name ? [`${step.name} ${ttl} CNAME ${owner}`] : [];
      return {
        ...step,
        answeredBy: "autopath",
        rcode: inner.rcode,
        ttl: inner.ttl,
        answers: [...cname, ...inner.answers],
        autopath: tried,
        note: `autopath: found ${candidate.name} (${inner.answeredBy}) on the server side`,
      };
    }
  }
  return { ...first, answeredBy: "autopath", autopath: tried, note: "autopath: no search-path name exists" };
}

/** Whether autopath goes on past this answer (cluster/autopath candidateAccepted's rule). */
function rejected(step: ExplainStep): boolean {
  return step.rcode === "NXDOMAIN" || step.rcode === "SERVFAIL";
}
