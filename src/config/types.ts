// The typed, validated configuration that every other module is built from. The Corefile parser
// produces it; nothing downstream reads Corefile text.

export interface UpstreamAddress {
  /** IPv4 or IPv6 literal, no brackets. */
  host: string;
  port: number;
}

export type ForwardPolicy = "random" | "round_robin" | "sequential";

export interface ForwardConfig {
  /** The zone this forward applies to, lowercase, trailing dot ("." for all). */
  from: string;
  to: UpstreamAddress[];
  /** Zones excluded from forwarding (lowercase, trailing dot). */
  except: string[];
  forceTcp: boolean;
  preferUdp: boolean;
  /** Consecutive failures before an upstream is marked down; 0 disables health tracking. */
  maxFails: number;
  /** Idle pooled connection lifetime, ms. */
  expireMs: number;
  policy: ForwardPolicy;
  /** Health-check probe interval, ms (CoreDNS default 0.5 s). */
  healthCheckMs: number;
  /** Send health probes without the RD bit. */
  healthCheckNoRec: boolean;
  /** Name probed by health checks ("." by default), lowercase, trailing dot. */
  healthCheckDomain: string;
  /** In-flight queries above which new ones get REFUSED; 0 = unlimited. */
  maxConcurrent: number;
  line: number;
}

export interface CacheStoreConfig {
  capacity: number;
  /** Seconds. */
  maxTtl: number;
  /** Seconds. */
  minTtl: number;
}

export interface PrefetchConfig {
  /** Hits within `durationSec` that make an entry popular enough to refresh. */
  amount: number;
  durationSec: number;
  /** Refresh when the remaining TTL falls below this percentage of the original TTL. */
  percentage: number;
}

export interface ServeStaleConfig {
  durationSec: number;
  /** immediate: answer stale at once and refresh behind; verify: try upstream first. */
  mode: "immediate" | "verify";
}

export interface CacheConfig {
  /** Zones the cache applies to; empty = the block's zones. */
  zones: string[];
  success: CacheStoreConfig;
  denial: CacheStoreConfig;
  /** Seconds a SERVFAIL is cached; 0 disables. */
  servfailTtl: number;
  prefetch: PrefetchConfig | null;
  serveStale: ServeStaleConfig | null;
  /** Answer with the original TTL instead of counting down. */
  keepTtl: boolean;
  line: number;
}

export interface HealthConfig {
  /** host:port to serve /health on. */
  address: string;
  lameduckMs: number;
  line: number;
}

export interface LogConfig {
  /** Response classes to log: all, denial, error, success. */
  classes: string[];
  /** Name scopes logged (lowercase, trailing dot); ["."] = every name. */
  names: string[];
  /** CoreDNS log format: "{common}" (default), "{combined}", or a custom template. */
  format: string;
  line: number;
}

export interface ErrorsConsolidate {
  periodMs: number;
  /** Go/RE2 regular expression source, as written. */
  pattern: string;
  level: "warning" | "error" | "info" | "debug";
}

export interface ErrorsConfig {
  /** Consolidate repeated messages over this many ms (0 = log each, rate-limited). First rule's period. */
  consolidateMs: number;
  /** Every `consolidate DURATION REGEXP [LEVEL]` rule, in order. */
  consolidate: ErrorsConsolidate[];
  /** `stacktrace`: log a stack trace on a recovered panic. */
  stacktrace: boolean;
  line: number;
}

export interface ReloadConfig {
  intervalMs: number;
  jitterMs: number;
  line: number;
}

export interface LoopConfig {
  line: number;
}

/** `kubernetes` directive; filled in by the cluster-records issue. */
export interface KubernetesConfig {
  zones: string[];
  endpoint: string | null;
  kubeconfig: { file: string; context: string | null } | null;
  namespaces: string[];
  labels: string | null;
  pods: "disabled" | "insecure" | "verified";
  endpointPodNames: boolean;
  ttl: number;
  noEndpoints: boolean;
  /** null = no fallthrough; [] = fallthrough for every zone. */
  fallthrough: string[] | null;
  ignoreEmptyService: boolean;
  line: number;
}

export interface AutopathConfig {
  /** "@kubernetes" or a resolv.conf path. */
  source: string;
  zones: string[];
  /** Search domains read from the resolv.conf source (lowercase, trailing dot); [] for @kubernetes. */
  search: string[];
  line: number;
}

export interface ServerBlock {
  /** Zones this block serves, lowercase, trailing dot; "." for the root. */
  zones: string[];
  port: number;
  /** Addresses to listen on; empty = every address (0.0.0.0 and ::). */
  bind: string[];
  errors: ErrorsConfig | null;
  log: LogConfig | null;
  cache: CacheConfig | null;
  forward: ForwardConfig | null;
  /** host:port for /metrics, or null. */
  prometheus: string | null;
  health: HealthConfig | null;
  /** host:port for /ready, or null. */
  ready: string | null;
  reload: ReloadConfig | null;
  loop: LoopConfig | null;
  kubernetes: KubernetesConfig | null;
  autopath: AutopathConfig | null;
  /** `explain [ADDRESS]`: host:port of the local debug endpoint (explain, cache show/flush), or null. */
  explain: string | null;
  /** Where the block starts, for messages. */
  file: string;
  line: number;
}

export interface Config {
  file: string;
  blocks: ServerBlock[];
}
