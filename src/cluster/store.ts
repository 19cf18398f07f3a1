// The objects from the watch and the name index derived from them. Every change rebuilds only the
// names of the service (or namespace, or address) it touches and reports those names.

import type { KubernetesConfig } from "../config/types.ts";
import type {
  ClusterEvent,
  ResourceKind,
  SlimNamespace,
  SlimObject,
  SlimPod,
  SlimService,
} from "../kubeapi/types.ts";
import type { PtrTarget } from "./answer.ts";
import { canonicalIp, dashedIp, reverseName } from "./ip.ts";
import {
  type Address,
  type BuildOptions,
  buildView,
  type ServiceView,
  serviceLookupKey,
  sliceAddresses,
} from "./view.ts";
import type { Zones } from "./zones.ts";

/** What the index keeps of an EndpointSlice: its identity and its addresses, already named. */
export interface HeldSlice {
  kind: "endpointslice";
  key: string;
  namespace: string;
  /** The owning service's name; "" when unlabelled. */
  service: string;
  resourceVersion: string;
  addresses: readonly Address[];
}

type Held = SlimService | HeldSlice | SlimNamespace | SlimPod;

export class ClusterStore {
  /** Services that give names, by their lookup key (see serviceLookupKey). */
  readonly views = new Map<string, ServiceView>();
  /** PTR targets by canonical IP, in the order services claimed the IP (kept when reverse zones are served). */
  readonly ptr = new Map<string, PtrTarget[]>();
  readonly syncedKinds = new Set<ResourceKind>();
  private readonly config: KubernetesConfig;
  private readonly zones: Zones;
  private readonly options: BuildOptions;
  private readonly configured: Set<string> | null;
  private readonly services = new Map<string, SlimService>();
  private readonly slices = new Map<string, HeldSlice>();
  private readonly slicesByService = new Map<string, string[]>();
  private readonly servicesByNamespace = new Map<string, Set<string>>();
  private readonly namespaces = new Map<string, SlimNamespace>();
  private readonly pods = new Map<string, SlimPod>();
  private readonly podsByIp = new Map<string, Set<string>>();

  constructor(config: KubernetesConfig, zones: Zones) {
    this.config = config;
    this.zones = zones;
    this.options = {
      endpointPodNames: config.endpointPodNames,
      ignoreEmptyService: config.ignoreEmptyService,
      noEndpoints: config.noEndpoints,
    };
    this.configured =
      config.namespaces.length > 0 ? new Set(config.namespaces.map((n) => n.toLowerCase())) : null;
  }

  namespaceExposed(namespace: string): boolean {
    return (this.configured === null || this.configured.has(namespace)) && this.namespaces.has(namespace);
  }

  /** The namespace of a running pod of this node at `ip`, or null. */
  podNamespace(ip: string): string | null {
    for (const key of this.podsByIp.get(canonicalIp(ip)) ?? []) {
      const pod = this.pods.get(key);
      if (pod !== undefined && pod.phase === "Running") return pod.namespace;
    }
    return null;
  }

  /** A running pod of this node: at `ip`, or by namespace and name, or the first in a namespace. */
  runningPod(match: { ip?: string; namespace?: string; name?: string }): SlimPod | null {
    const keys = match.ip === undefined ? this.pods.keys() : (this.podsByIp.get(canonicalIp(match.ip)) ?? []);
    for (const key of keys) {
      const pod = this.pods.get(key);
      if (pod === undefined || pod.phase !== "Running") continue;
      if (match.namespace !== undefined && pod.namespace !== match.namespace) continue;
      if (match.name !== undefined && pod.name !== match.name) continue;
      return pod;
    }
    return null;
  }

  podAt(ip: string, namespace: string): boolean {
    for (const key of this.podsByIp.get(ip) ?? [])
      if (this.pods.get(key)?.namespace === namespace) return true;
    return false;
  }

  counts(): { services: number; endpointSlices: number; namespaces: number; pods: number } {
    return {
      services: this.services.size,
      endpointSlices: this.slices.size,
      namespaces: this.namespaces.size,
      pods: this.pods.size,
    };
  }

  /** Apply one event; returns the names whose answers changed. */
  apply(event: ClusterEvent): Set<string> {
    const changed = new Set<string>();
    if (event.type === "replace") {
      const incoming = new Map(event.objects.map((o) => [o.key, o]));
      for (const [key, old] of this.current(event.kind)) if (!incoming.has(key)) this.remove(old, changed);
      for (const object of event.objects) this.upsert(object, changed);
    } else if (event.type === "prune") {
      const current = this.current(event.kind);
      for (const [key, old] of current) if (!event.keep.has(key)) this.remove(old, changed);
    } else if (event.type === "upsert") {
      this.upsert(event.object, changed);
    } else {
      const old = this.current(event.kind).get(event.object.key);
      if (old !== undefined) this.remove(old, changed);
    }
    return changed;
  }

  private current(kind: ResourceKind): Map<string, Held> {
    if (kind === "service") return this.services;
    if (kind === "endpointslice") return this.slices;
    if (kind === "namespace") return this.namespaces;
    return this.pods;
  }

  private upsert(object: SlimObject, changed: Set<string>): void {
    const old = this.current(object.kind).get(object.key);
    if (old !== undefined && old.resourceVersion === object.resourceVersion && object.resourceVersion !== "")
      return;
    switch (object.kind) {
      case "service": {
        this.services.set(object.key, object);
        addTo(this.servicesByNamespace, object.namespace, object.key);
        this.rebuildService(object.key, changed);
        return;
      }
      case "endpointslice": {
        const before = old as HeldSlice | undefined;
        const beforeService = before ? `${before.namespace}/${before.service}` : "";
        const service = `${object.namespace}/${object.service}`;
        if (before && before.service !== "" && beforeService !== service) {
          removeFromList(this.slicesByService, beforeService, object.key);
          this.rebuildService(beforeService, changed);
        }
        this.slices.set(object.key, {
          kind: "endpointslice",
          key: object.key,
          namespace: object.namespace,
          service: object.service,
          resourceVersion: object.resourceVersion,
          addresses: sliceAddresses(object, this.options, before?.addresses),
        });
        if (object.service !== "") {
          addToList(this.slicesByService, service, object.key);
          this.rebuildService(service, changed);
        }
        return;
      }
      case "namespace": {
        this.namespaces.set(object.key, object);
        if (old === undefined) this.rebuildNamespace(object.name, changed);
        return;
      }
      case "pod": {
        if (old !== undefined) this.unindexPod(old as SlimPod, changed);
        this.pods.set(object.key, object);
        for (const raw of object.ips) {
          const ip = canonicalIp(raw);
          if (ip === "") continue;
          addTo(this.podsByIp, ip, object.key);
          this.podChanged(object, ip, changed);
        }
        return;
      }
    }
  }

  private remove(object: Held, changed: Set<string>): void {
    this.current(object.kind).delete(object.key);
    switch (object.kind) {
      case "service":
        removeFrom(this.servicesByNamespace, object.namespace, object.key);
        this.rebuildService(object.key, changed);
        return;
      case "endpointslice": {
        if (object.service === "") return;
        const service = `${object.namespace}/${object.service}`;
        removeFromList(this.slicesByService, service, object.key);
        this.rebuildService(service, changed);
        return;
      }
      case "namespace":
        this.rebuildNamespace(object.name, changed);
        return;
      case "pod":
        this.unindexPod(object, changed);
        return;
    }
  }

  private unindexPod(pod: SlimPod, changed: Set<string>): void {
    for (const raw of pod.ips) {
      const ip = canonicalIp(raw);
      removeFrom(this.podsByIp, ip, pod.key);
      this.podChanged(pod, ip, changed);
    }
  }

  private podChanged(pod: SlimPod, ip: string, changed: Set<string>): void {
    if (this.config.pods !== "verified" || ip === "") return;
    for (const zone of this.zones.forward) changed.add(`${dashedIp(ip)}.${pod.namespace}.pod.${zone.name}`);
  }

  private rebuildNamespace(namespace: string, changed: Set<string>): void {
    for (const zone of this.zones.forward) {
      changed.add(`${namespace}.svc.${zone.name}`);
      changed.add(`${namespace}.pod.${zone.name}`);
    }
    for (const key of this.servicesByNamespace.get(namespace) ?? []) this.rebuildService(key, changed);
  }

  private rebuildService(serviceKey: string, changed: Set<string>): void {
    const [namespace, name] = serviceKey.split("/") as [string, string];
    const lookupKey = serviceLookupKey(namespace, name);
    const old = this.views.get(lookupKey);
    for (const zone of this.zones.forward) changed.add(`${name}.${namespace}.svc.${zone.name}`.toLowerCase());
    const svc = this.services.get(serviceKey);
    let view: ServiceView | null = null;
    if (svc !== undefined && this.namespaceExposed(namespace)) {
      const slices: (readonly Address[])[] = [];
      for (const key of this.slicesByService.get(serviceKey) ?? [])
        slices.push(this.slices.get(key)!.addresses);
      view = buildView(svc, slices, this.options);
    }
    if (view === null) this.views.delete(lookupKey);
    else this.views.set(lookupKey, view);
    if (this.zones.reverse.length === 0) return;
    if (old !== undefined) {
      for (const a of old.clusterIps) this.unclaim(a.ip, old, changed);
      for (const a of old.endpoints) this.unclaim(a.ip, old, changed);
    }
    if (view !== null) {
      for (const a of view.clusterIps) this.claim(a.ip, { view, host: "" }, changed);
      for (const a of view.endpoints) this.claim(a.ip, { view, host: a.host }, changed);
    }
  }

  private unclaim(ip: string, view: ServiceView, changed: Set<string>): void {
    const list = this.ptr.get(ip);
    if (list === undefined) return;
    const kept = list.filter((t) => t.view !== view);
    if (kept.length === list.length) return;
    if (kept.length === 0) this.ptr.delete(ip);
    else this.ptr.set(ip, kept);
    this.ptrChanged(ip, changed);
  }

  private claim(ip: string, target: PtrTarget, changed: Set<string>): void {
    const list = this.ptr.get(ip);
    if (list === undefined) this.ptr.set(ip, [target]);
    else if (!list.some((t) => t.view === target.view && t.host === target.host)) list.push(target);
    else return;
    this.ptrChanged(ip, changed);
  }

  private ptrChanged(ip: string, changed: Set<string>): void {
    const name = reverseName(ip);
    if (name !== "" && this.zones.servesReverse(name)) changed.add(name);
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Small lists (a service's slices: usually one) as arrays, which cost far less than Sets. */
function addToList(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

function removeFromList(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) return;
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1);
  if (list.length === 0) map.delete(key);
}
