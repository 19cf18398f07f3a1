// API JSON -> slim objects: only the fields DNS needs, so memory follows object count, not JSON size.

import type {
  ResourceKind,
  SlimEndpoint,
  SlimEndpointSlice,
  SlimNamespace,
  SlimObject,
  SlimPod,
  SlimPort,
  SlimService,
} from "./types.ts";

// biome-ignore lint/suspicious/noExplicitAny: raw API JSON is walked defensively
type Json = any;

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function ports(list: Json): SlimPort[] {
  if (!Array.isArray(list)) return [];
  return list
    .filter((p) => p !== null && typeof p === "object")
    .map((p) => ({ name: str(p.name), port: Number(p.port) || 0, protocol: str(p.protocol) || "TCP" }));
}

function meta(o: Json): { namespace: string; name: string; resourceVersion: string } {
  const m = o?.metadata ?? {};
  return { namespace: str(m.namespace), name: str(m.name), resourceVersion: str(m.resourceVersion) };
}

export function slimService(o: Json): SlimService {
  const { namespace, name, resourceVersion } = meta(o);
  const spec = o?.spec ?? {};
  const raw: string[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs.map(str) : [str(spec.clusterIP)];
  const type = str(spec.type) || "ClusterIP";
  return {
    kind: "service",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion,
    type,
    clusterIPs: raw.filter((ip) => ip !== "" && ip !== "None"),
    headless: type !== "ExternalName" && raw[0] === "None",
    externalName: type === "ExternalName" ? str(spec.externalName).toLowerCase().replace(/\.$/, "") : "",
    ports: ports(spec.ports),
  };
}

export function slimEndpointSlice(o: Json): SlimEndpointSlice {
  const { namespace, name, resourceVersion } = meta(o);
  const endpoints: SlimEndpoint[] = [];
  for (const e of Array.isArray(o?.endpoints) ? o.endpoints : []) {
    const ready = e?.conditions?.ready;
    if (ready === false) continue; // spec: ready = true or unset
    const target = e?.targetRef;
    endpoints.push({
      addresses: Array.isArray(e?.addresses) ? e.addresses.map(str).filter((a: string) => a !== "") : [],
      hostname: str(e?.hostname),
      podName: target && (target.kind === "Pod" || target.kind === undefined) ? str(target.name) : "",
    });
  }
  return {
    kind: "endpointslice",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion,
    service: str(o?.metadata?.labels?.[SERVICE_NAME_LABEL]),
    addressType: str(o?.addressType),
    endpoints,
    ports: ports(o?.ports),
  };
}

export function slimNamespace(o: Json): SlimNamespace {
  const { name, resourceVersion } = meta(o);
  return { kind: "namespace", key: name, name, resourceVersion };
}

export function slimPod(o: Json): SlimPod {
  const { namespace, name, resourceVersion } = meta(o);
  const status = o?.status ?? {};
  const ips: string[] = Array.isArray(status.podIPs)
    ? status.podIPs.map((p: Json) => str(p?.ip)).filter((ip: string) => ip !== "")
    : [];
  if (ips.length === 0 && str(status.podIP) !== "") ips.push(str(status.podIP));
  return {
    kind: "pod",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion,
    ips,
    phase: str(status.phase),
    nodeName: str(o?.spec?.nodeName),
  };
}

export function slim(kind: ResourceKind, o: Json): SlimObject {
  switch (kind) {
    case "service":
      return slimService(o);
    case "endpointslice":
      return slimEndpointSlice(o);
    case "namespace":
      return slimNamespace(o);
    case "pod":
      return slimPod(o);
  }
}
