// What the explain endpoint is asked and what it answers (the CLI prints the same, as text or JSON).

import type { CacheEntryInfo } from "../cache/index.ts";

export type AnsweredBy = "cache" | "kubernetes" | "autopath" | "forward" | "loop" | "none";

export interface ExplainRequest {
  name: string;
  /** Type name (A, AAAA, SRV...) or number; A by default. */
  type?: string;
  /** NAMESPACE/POD: the client is that pod of this node. */
  pod?: string;
  /** The client's address. */
  client?: string;
  /** Send real queries (counted, cached and forwarded like any other) instead of only looking. */
  live?: boolean;
}

export interface ExplainClient {
  /** Source address of its queries; null for a pod explain assumed (no pod known). */
  ip: string | null;
  namespace: string | null;
  pod: string | null;
  /** Whether the daemon knows this client as a running pod of this node. */
  known: boolean;
}

/** One name the client's resolver asks, and what answers it. */
export interface ExplainStep {
  name: string;
  type: string;
  /** The server block (its zones) that takes the name; null when none does. */
  block: string | null;
  answeredBy: AnsweredBy;
  /** null: not known without asking the upstream (see `asked`). */
  rcode: string | null;
  /** Cache: TTL left; otherwise the answer's lowest TTL. */
  ttl: number | null;
  stale: boolean;
  /** Cache hits: the store (success, or denial for NXDOMAIN/NODATA/SERVFAIL). */
  kind?: "success" | "denial";
  /** The upstream asked (live), or that would be asked. */
  upstream: string | null;
  /** Whether the upstream was really asked. */
  asked: boolean;
  /** Time to the answer (live only). */
  ms: number | null;
  answers: string[];
  /** Why, in one line. */
  note: string;
  /** The names autopath tried after this one, in order (each a step of its own). */
  autopath?: ExplainStep[];
}

export interface ExplainReport {
  client: ExplainClient;
  name: string;
  type: string;
  search: string[];
  ndots: number;
  /** Every name the resolver would ask, in its order (glibc's res_search). */
  order: string[];
  steps: ExplainStep[];
  /** Why the search stopped where it did. */
  stop: string;
  /** Names of `order` that were not reached. */
  notAsked: string[];
  final: { rcode: string | null; answers: string[] };
  /** Client queries autopath saved (names the resolver did not have to ask). */
  autopathSaved: number;
  live: boolean;
}

export interface CacheListing {
  /** The server block of each cache (its zones) and, with -workers, the worker. */
  caches: { block: string; worker?: number; entries: CacheEntryInfoShown[] }[];
}

export interface CacheEntryInfoShown extends Omit<CacheEntryInfo, "type" | "rcode"> {
  type: string;
  rcode: string;
}

/** What answers explain and cache requests: one daemon, or the primary asking its workers. */
export interface DebugBackend {
  explain(request: ExplainRequest): Promise<ExplainReport>;
  cacheShow(name: string): Promise<CacheListing>;
  cacheFlush(name: string): Promise<number>;
}
