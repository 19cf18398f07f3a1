// The objects from the watch and the name index derived from them. Every change rebuilds only the
// names of the service (or namespace, or address) it touches and reports those names.

import type { KubernetesConfig } from "../config/types.ts";
import { nameToWire } from "../dns/index.ts";
import type {
  ClusterEvent,
  ResourceKind,
  SlimEndpointSlice,
  SlimNamespace,
  SlimObject,
  SlimPod,
  SlimService,
} from "../kubeapi/types.ts";
import { type BuildOptions, buildService, emptyRecords, type NameRecords, type PtrSource } from "./build.ts";
import type { Entry } from "./index.ts";
import { canonicalIp, dashedIp, reverseName } from "./ip.ts";
import type { Zone, Zones } from "./zones.ts";

const DNS_SCHEMA_VERSION = "1.1.0";

function wireKey(name: string): string {
  return nameToWire(name).toString("latin1");
}

export class ClusterStore {
  readonly names = new Map<string, Entry>();
  readonly syncedKinds = new Set<ResourceKind>();
  private readonly config: KubernetesConfig;
  private readonly zones: Zones;
  private readonly options: BuildOptions;
  private readonly configured: Set<string> | null;
  private readonly services = new Map<string, SlimService>();
  private readonly slices = new Map<string, SlimEndpointSlice>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly servicesByNamespace = new Map<string, Set<string>>();
  private readonly namespaces = new Map<string, SlimNamespace>();
  private readonly pods = new Map<string, SlimPod>();
  private readonly podsByIp = new Map<string, Set<string>>();
  private readonly owned = new Map<string, string[]>();
  private readonly ptrOwned = new Map<string, PtrSource[]>();
  private readonly ptrByIp = new Map<string, Map<string, PtrSource[]>>();

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
    for (const zone of zones.all) {
      this.put(zone.name, zone, { ...emptyRecords(), apex: true });
      if (zone.reverse) continue;
      this.put(`dns-version.${zone.name}`, zone, { ...emptyRecords(), txt: [DNS_SCHEMA_VERSION] });
      this.put(`svc.${zone.name}`, zone, emptyRecords());
      this.put(`pod.${zone.name}`, zone, emptyRecords());
    }
  }

  private put(name: string, zone: Zone, records: NameRecords): string {
    const key = wireKey(name);
    this.names.set(key, { name, zone, records: compact(records), memo: null });
    return key;
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
    } else if (event.type === "upsert") {
      this.upsert(event.object, changed);
    } else {
      const old = this.current(event.kind).get(event.object.key);
      if (old !== undefined) this.remove(old, changed);
    }
    return changed;
  }

  private current(kind: ResourceKind): Map<string, SlimObject> {
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
        const before = old as SlimEndpointSlice | undefined;
        const beforeService = before ? `${before.namespace}/${before.service}` : "";
        const service = `${object.namespace}/${object.service}`;
        if (before && before.service !== "" && beforeService !== service) {
          removeFrom(this.slicesByService, beforeService, object.key);
          this.rebuildService(beforeService, changed);
        }
        this.slices.set(object.key, object);
        if (object.service !== "") {
          addTo(this.slicesByService, service, object.key);
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

  private remove(object: SlimObject, changed: Set<string>): void {
    this.current(object.kind).delete(object.key);
    switch (object.kind) {
      case "service":
        removeFrom(this.servicesByNamespace, object.namespace, object.key);
        this.rebuildService(object.key, changed);
        return;
      case "endpointslice": {
        if (object.service === "") return;
        const service = `${object.namespace}/${object.service}`;
        removeFrom(this.slicesByService, service, object.key);
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
    const exposed = this.namespaceExposed(namespace);
    for (const zone of this.zones.forward) {
      for (const kind of ["svc", "pod"]) {
        const name = `${namespace}.${kind}.${zone.name}`;
        if (exposed) this.put(name, zone, emptyRecords());
        else this.names.delete(wireKey(name));
        changed.add(name);
      }
    }
    for (const key of this.servicesByNamespace.get(namespace) ?? []) this.rebuildService(key, changed);
  }

  private rebuildService(serviceKey: string, changed: Set<string>): void {
    for (const key of this.owned.get(serviceKey) ?? []) this.names.delete(key);
    this.owned.delete(serviceKey);
    const ips = new Set<string>();
    for (const source of this.ptrOwned.get(serviceKey) ?? []) {
      ips.add(source.ip);
      this.ptrByIp.get(source.ip)?.delete(serviceKey);
    }
    this.ptrOwned.delete(serviceKey);

    const [namespace, name] = serviceKey.split("/") as [string, string];
    for (const zone of this.zones.forward) changed.add(`${name}.${namespace}.svc.${zone.name}`.toLowerCase());
    const svc = this.services.get(serviceKey);
    if (svc !== undefined && this.namespaceExposed(namespace)) {
      const keys: string[] = [];
      const slices = [...(this.slicesByService.get(serviceKey) ?? [])].map((k) => this.slices.get(k)!);
      for (const zone of this.zones.forward) {
        const built = buildService(svc, slices, zone.name, this.options);
        for (const [owner, records] of built.names) keys.push(this.put(owner, zone, records));
        if (zone.name !== this.zones.primary || this.zones.reverse.length === 0) continue;
        this.ptrOwned.set(serviceKey, built.ptr);
        for (const source of built.ptr) {
          ips.add(source.ip);
          let byService = this.ptrByIp.get(source.ip);
          if (byService === undefined) {
            byService = new Map();
            this.ptrByIp.set(source.ip, byService);
          }
          const list = byService.get(serviceKey);
          if (list === undefined) byService.set(serviceKey, [source]);
          else list.push(source);
        }
      }
      this.owned.set(serviceKey, keys);
    }
    for (const ip of ips) this.rebuildPtr(ip, changed);
  }

  private rebuildPtr(ip: string, changed: Set<string>): void {
    const name = reverseName(ip);
    if (name === "" || !this.zones.servesReverse(name)) return;
    const zone = this.zones.reverse.find((z) => name === z.name || name.endsWith(`.${z.name}`))!;
    const byService = this.ptrByIp.get(ip);
    const all = byService === undefined ? [] : [...byService.values()].flat();
    const cluster = all.filter((s) => s.cluster);
    const targets = [...new Set((cluster.length > 0 ? cluster.slice(0, 1) : all).map((s) => s.target))];
    if (targets.length === 0) {
      this.ptrByIp.delete(ip);
      this.names.delete(wireKey(name));
    } else {
      this.put(name, zone, { ...emptyRecords(), ptr: targets });
    }
    changed.add(name);
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

const NONE: never[] = [];
Object.freeze(NONE);

/**
 * Records are never changed once indexed (a change rebuilds them), so their empty lists can all be
 * one shared array: most names have one or two record kinds, and 100,000+ names add up.
 */
function compact(records: NameRecords): NameRecords {
  if (records.a.length === 0) records.a = NONE;
  if (records.aaaa.length === 0) records.aaaa = NONE;
  if (records.srv.length === 0) records.srv = NONE;
  if (records.glue.length === 0) records.glue = NONE;
  if (records.txt.length === 0) records.txt = NONE;
  if (records.ptr.length === 0) records.ptr = NONE;
  return records;
}
