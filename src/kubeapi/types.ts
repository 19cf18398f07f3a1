// The slim objects the watch keeps (only what DNS needs) and the events it hands to the index.

export type ResourceKind = "service" | "endpointslice" | "namespace" | "pod";

export interface SlimPort {
  /** "" for an unnamed port. */
  name: string;
  port: number;
  /** "TCP" | "UDP" | "SCTP", as the API spells it. */
  protocol: string;
}

export interface SlimService {
  kind: "service";
  /** "namespace/name". */
  key: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  type: string;
  /** spec.clusterIPs (or spec.clusterIP), "None" and "" removed. */
  clusterIPs: string[];
  /** clusterIP "None". */
  headless: boolean;
  /** spec.externalName for type ExternalName, lowercase without trailing dot; "" otherwise. */
  externalName: string;
  ports: readonly SlimPort[];
}

export interface SlimEndpoint {
  /** Addresses of one ready endpoint (not-ready endpoints are dropped on conversion). */
  addresses: string[];
  hostname: string;
  /** targetRef.name when the target is a Pod; "" otherwise. */
  podName: string;
}

export interface SlimEndpointSlice {
  kind: "endpointslice";
  key: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  /** The kubernetes.io/service-name label; "" when absent (such slices give no records). */
  service: string;
  addressType: string;
  endpoints: SlimEndpoint[];
  ports: readonly SlimPort[];
}

export interface SlimNamespace {
  kind: "namespace";
  key: string;
  name: string;
  resourceVersion: string;
}

export interface SlimPod {
  kind: "pod";
  key: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  ips: string[];
  phase: string;
  nodeName: string;
}

export type SlimObject = SlimService | SlimEndpointSlice | SlimNamespace | SlimPod;

/**
 * What a reflector hands to the index: single changes; after a list or relist, which arrives as
 * upserts page by page, `prune` with the keys listed (everything else of the kind is gone, and the
 * kind counts as synced); or `replace` with the complete current set (the index applies the
 * difference and counts the kind as synced).
 */
export type ClusterEvent =
  | { type: "upsert"; kind: ResourceKind; object: SlimObject }
  | { type: "delete"; kind: ResourceKind; object: SlimObject }
  | { type: "prune"; kind: ResourceKind; keep: ReadonlySet<string> }
  | { type: "replace"; kind: ResourceKind; objects: SlimObject[] };

/** Watch state for metrics and readiness. */
export interface WatchObserver {
  /** Number of objects currently held for a kind. */
  objects(kind: ResourceKind, count: number): void;
  /** A list or watch event brought the kind up to date (ms since epoch). */
  synced(kind: ResourceKind, at: number): void;
  /** A watch or list failed and will be retried; `reason` is short and loggable. */
  restarted(kind: ResourceKind, reason: string): void;
  /** The first complete list of a kind has been applied. */
  firstSync(kind: ResourceKind): void;
}
