// The daemon's side of `explain` and `cache show/flush`: walks a client's search list through the
// running chains (looking, or with `live` asking for real) and reads and drops cache entries.

import type { ClusterRecords } from "../cluster/index.ts";
import type { Config } from "../config/types.ts";
import {
  buildQuery,
  canonicalName,
  nameToWire,
  OPT_RECORD_LENGTH,
  rcodeName,
  TYPE,
  typeName,
  writeOpt,
} from "../dns/index.ts";
import { ExplainError } from "../errors/index.ts";
import { explainAddressOf } from "../plugins/explain/index.ts";
import type { DnsServer, Route } from "../server/index.ts";
import { readReply } from "./answers.ts";
import { type ClientView, resolveClient } from "./client.ts";
import { endsSearch, exhaustedRcode, searchOrder } from "./search.ts";
import { blankStep, handlersOf, simulate, viewOf } from "./simulate.ts";
import type { CacheListing, DebugBackend, ExplainReport, ExplainRequest, ExplainStep } from "./types.ts";

/** A live query that gets no answer in this long is reported as such. */
const LIVE_TIMEOUT_MS = 10_000;

export interface ExplainerDeps {
  server: DnsServer;
  /** The configuration being served (null before the first). */
  config(): Config | null;
  /** The node's resolv.conf search domains. */
  hostSearch: readonly string[];
}

export class Explainer implements DebugBackend {
  private readonly deps: ExplainerDeps;

  constructor(deps: ExplainerDeps) {
    this.deps = deps;
  }

  async explain(request: ExplainRequest): Promise<ExplainReport> {
    const qtype = parseType(request.type ?? "A");
    const name = request.name.trim();
    checkName(name);
    const listener = this.listener();
    const client = resolveClient(request, this.records(), this.deps.hostSearch);
    const order = searchOrder(name, client.search, client.ndots);
    const live = request.live === true;
    const steps: ExplainStep[] = [];
    const report: ExplainReport = {
      client: { ip: client.ip, namespace: client.namespace, pod: client.pod, known: client.known },
      name,
      type: typeName(qtype),
      search: client.search,
      ndots: client.ndots,
      order,
      steps,
      stop: "",
      notAsked: [],
      final: { rcode: null, answers: [] },
      autopathSaved: 0,
      live,
    };
    for (let i = 0; i < order.length; i++) {
      const wire = nameToWire(order[i]!);
      const view = viewOf(wire, qtype);
      const route = listener.router.route(view.buf, view.qnameEnd);
      const step = live
        ? await this.liveStep(listener, route, order[i]!, wire, qtype, client)
        : simulate(route, order[i]!, wire, qtype, client);
      steps.push(step);
      report.notAsked = order.slice(i + 1);
      if (step.rcode === null) {
        report.stop =
          `${step.name} needs the upstream's answer (${step.upstream}), which was not asked: the search ` +
          "ends there on an answer, and goes on to the next name on NXDOMAIN, NODATA or SERVFAIL";
        return report;
      }
      const positive = step.kind === "success" || step.answers.length > 0;
      if (endsSearch(step.rcode, positive ? 1 : 0)) {
        report.stop = positive
          ? `${step.name} answered: the search stops here`
          : `${step.name} got ${step.rcode}, which the resolver does not retry with another name`;
        report.final = { rcode: step.rcode, answers: step.answers };
        report.autopathSaved = savedBy(step, order, i);
        return report;
      }
    }
    const rcode = exhaustedRcode(steps.map((s) => s.rcode ?? ""));
    report.stop = `every name was asked without an answer: the resolver reports ${rcode}`;
    report.final = { rcode, answers: [] };
    return report;
  }

  async cacheShow(name: string): Promise<CacheListing> {
    checkName(name);
    const caches: CacheListing["caches"] = [];
    for (const chain of this.deps.server.chains()) {
      const entries = handlersOf(chain).cache?.cache.entriesUnder(name);
      if (entries === undefined) continue;
      caches.push({
        block: `${chain.block.zones.join(" ")}:${chain.block.port}`,
        entries: entries.map((e) => ({ ...e, type: typeName(e.type), rcode: rcodeName(e.rcode) })),
      });
    }
    return { caches };
  }

  async cacheFlush(name: string): Promise<number> {
    checkName(name);
    let dropped = 0;
    for (const chain of this.deps.server.chains())
      dropped += handlersOf(chain).cache?.cache.flushUnder(name) ?? 0;
    return dropped;
  }

  /** Where the client's queries arrive: the first address of the first block with `explain`. */
  private listener() {
    const block = this.deps.config()?.blocks.find((b) => explainAddressOf(b.plugins) !== null);
    const listener = block === undefined ? undefined : this.deps.server.listenerOf(block);
    if (listener === undefined)
      throw new ExplainError("EXPLAIN_UNAVAILABLE", "no server block with `explain` is serving");
    return listener;
  }

  /** The cluster index clients are told apart by (the first `kubernetes` of the configuration). */
  private records(): ClusterRecords | null {
    for (const chain of this.deps.server.chains()) {
      const kubernetes = handlersOf(chain).kubernetes;
      if (kubernetes !== undefined) return kubernetes.records;
    }
    return null;
  }

  /** Ask for real, from the client's address, and report who answered. */
  private async liveStep(
    listener: ReturnType<Explainer["listener"]>,
    route: Route | undefined,
    name: string,
    wire: Buffer,
    qtype: number,
    client: ClientView,
  ): Promise<ExplainStep> {
    const step = blankStep(name, qtype, route);
    const { cache, kubernetes } = route === undefined ? {} : handlersOf(route);
    const view = viewOf(wire, qtype);
    const cached = cache?.covers(view) ? cache.cache.lookupInfo(name, qtype) : null;
    const started = performance.now();
    const result = await Promise.race([
      listener.inject(liveQuery(wire, qtype), client.ip ?? "127.0.0.1"),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), LIVE_TIMEOUT_MS).unref()),
    ]);
    if (result === null) return { ...step, note: `no answer within ${LIVE_TIMEOUT_MS} ms`, asked: true };
    const ms = Math.round((performance.now() - started) * 10) / 10;
    const read = readReply(result.reply);
    const plugin = result.query.plugin;
    let by: ExplainStep["answeredBy"] =
      plugin === "cache" || plugin === "kubernetes" || plugin === "forward" || plugin === "loop"
        ? plugin
        : "none";
    const candidates =
      client.namespace === null ? null : (kubernetes?.records.autopathFor(view, client.namespace) ?? null);
    // autopath applied: it found a later search name (a CNAME to it), or none (the first name's error).
    const found = read.cname !== null && candidates?.some((c) => c.name === read.cname![1]);
    const none = read.rcode === "NXDOMAIN" || read.rcode === "SERVFAIL";
    if (by === "kubernetes" && candidates !== null && (found || none)) by = "autopath";
    const fromCache = by === "cache" && cached !== null;
    return {
      ...step,
      answeredBy: by,
      rcode: read.rcode,
      ttl: fromCache ? cached.ttlLeft : read.ttl,
      stale: fromCache ? cached.stale : false,
      ...(fromCache ? { kind: cached.kind } : {}),
      upstream: result.query.upstream === "" ? null : result.query.upstream,
      asked: result.query.upstream !== "",
      ms,
      answers: read.answers,
      note: liveNote(by, found ? read.cname : null),
    };
  }
}

function liveNote(by: ExplainStep["answeredBy"], cname: [string, string] | null): string {
  switch (by) {
    case "cache":
      return "asked for real: a cache hit";
    case "kubernetes":
      return "asked for real: answered from the in-process cluster index";
    case "autopath":
      return cname === null
        ? "asked for real: autopath found no search-path name that exists"
        : `asked for real: autopath found ${cname[1]} on the server side`;
    case "forward":
      return "asked for real: forwarded";
    case "loop":
      return "asked for real: forwarding loop detected";
    default:
      return "asked for real: answered by the server itself";
  }
}

/** The names the resolver did not ask because the answer already points past them (autopath). */
function savedBy(step: ExplainStep, order: readonly string[], at: number): number {
  const cname = step.answers[0]?.split(" ");
  if (cname === undefined || cname[2] !== "CNAME" || cname[0] !== step.name) return 0;
  const found = order.indexOf(cname[3]!);
  return found > at ? found - at : 0;
}

/** A plain query from a resolver, with an OPT so a large answer is not cut to 512 bytes. */
function liveQuery(wire: Buffer, qtype: number): Buffer {
  const base = buildQuery(Math.floor(Math.random() * 0x10000), wire, qtype);
  const out = Buffer.alloc(base.length + OPT_RECORD_LENGTH);
  base.copy(out);
  out.writeUInt16BE(1, 10);
  writeOpt(out, base.length, false);
  return out;
}

function parseType(text: string): number {
  const upper = text.toUpperCase();
  const known = (TYPE as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const numeric = /^(?:TYPE)?(\d{1,5})$/.exec(upper);
  if (numeric !== null && Number(numeric[1]) <= 65535) return Number(numeric[1]);
  throw new ExplainError(
    "EXPLAIN_BAD_REQUEST",
    `type "${text}": expected a type name (A, AAAA, SRV, PTR, TXT, MX, ...) or TYPEn`,
  );
}

function checkName(name: string): void {
  try {
    nameToWire(canonicalName(name));
  } catch (error) {
    throw new ExplainError("EXPLAIN_BAD_REQUEST", `name "${name}": ${(error as Error).message}`);
  }
}
