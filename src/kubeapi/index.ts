// The Kubernetes API watch: one reflector per resource the configuration needs, each feeding the
// record index through `sink`. The only part of the cluster records that opens sockets.

import type { KubernetesConfig } from "../config/types.ts";
import { type ApiConnection, type ConnectionOptions, connect } from "./connection.ts";
import { Reflector, type ReflectorState, type ReflectorTiming } from "./reflector.ts";
import type { ClusterEvent, ResourceKind, WatchObserver } from "./types.ts";

export { type ApiConnection, type ConnectionOptions, connect, resolveCredentials } from "./connection.ts";
export { DEFAULT_TIMING, Reflector, type ReflectorState, type ReflectorTiming } from "./reflector.ts";
export * from "./slim.ts";
export type * from "./types.ts";

export const RESOURCE_PATHS: Record<ResourceKind, string> = {
  service: "/api/v1/services",
  endpointslice: "/apis/discovery.k8s.io/v1/endpointslices",
  namespace: "/api/v1/namespaces",
  pod: "/api/v1/pods",
};

/** What of a `kubernetes` configuration decides what is watched (the rest shapes answers only). */
export type WatchTarget = Pick<KubernetesConfig, "endpoint" | "kubeconfig" | "labels">;

export interface WatchOptions {
  config: WatchTarget;
  /** From ClusterRecords.kinds. */
  kinds: readonly ResourceKind[];
  /** This node (NODE_NAME): pods are watched with spec.nodeName=<node>. */
  nodeName?: string;
  sink(event: ClusterEvent): void;
  observer?: WatchObserver;
  /** Overrides of in-cluster paths/env (tests); `endpoint`/`kubeconfig` come from config. */
  connection?: Omit<ConnectionOptions, "endpoint" | "kubeconfig">;
  timing?: Partial<ReflectorTiming>;
}

/** A running watch as its user sees it, wherever it runs (in this process or in the primary's). */
export interface WatchHandle {
  stop(): Promise<void>;
}

/** Starts a watch: startWatch in this process, or a subscription to the primary's (workers). */
export type WatchStarter = (options: WatchOptions) => WatchHandle;

export interface ClusterWatch extends WatchHandle {
  readonly connection: ApiConnection;
  state(): Record<string, ReflectorState>;
}

/** Start list/watch for every kind; returns at once (sync progress shows in ClusterRecords.synced). */
export function startWatch(options: WatchOptions): ClusterWatch {
  const connection = connect({
    ...options.connection,
    endpoint: options.config.endpoint,
    kubeconfig: options.config.kubeconfig,
  });
  const reflectors = new Map<ResourceKind, Reflector>();
  for (const kind of options.kinds) {
    const params: Record<string, string> = {};
    // `labels` selects services and their endpoints (CoreDNS); slices carry the service's labels.
    if (options.config.labels && (kind === "service" || kind === "endpointslice")) {
      params.labelSelector = options.config.labels;
    }
    if (kind === "pod") params.fieldSelector = `spec.nodeName=${options.nodeName ?? ""}`;
    const reflector = new Reflector({
      kind,
      path: RESOURCE_PATHS[kind],
      params,
      connection,
      sink: options.sink,
      observer: options.observer,
      timing: options.timing,
    });
    reflectors.set(kind, reflector);
    reflector.start();
  }
  return {
    connection,
    state: () => Object.fromEntries([...reflectors].map(([kind, r]) => [kind, { ...r.state }])),
    async stop() {
      await Promise.all([...reflectors.values()].map((r) => r.stop()));
      connection.close();
    },
  };
}
