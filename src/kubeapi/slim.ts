// API JSON -> slim objects: only the fields DNS needs, so memory follows object count, not JSON size.

import { internPorts, internString } from "./intern.ts";
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

function ports(list: Json): readonly SlimPort[] {
  if (!Array.isArray(list)) return internPorts([]);
  const out: SlimPort[] = [];
  for (const p of list) {
    if (p === null || typeof p !== "object") continue;
    out.push({
      name: internString(str(p.name)),
      port: Number(p.port) || 0,
      protocol: internString(str(p.protocol) || "TCP"),
    });
  }
  return internPorts(out);
}

/** "namespace/name", as one flat string (a template literal keeps both pieces and a join node). */
function objectKey(namespace: string, name: string): string {
  return [namespace, name].join("/");
}

function meta(o: Json): { namespace: string; name: string; resourceVersion: string } {
  const m = o?.metadata ?? {};
  return {
    namespace: internString(str(m.namespace)),
    name: str(m.name),
    resourceVersion: str(m.resourceVersion),
  };
}

/** The non-empty strings of a JSON list, in an array of exactly their number (no spare capacity). */
function strings(list: Json, drop = ""): string[] {
  if (!Array.isArray(list)) return [];
  let n = 0;
  for (const v of list) if (typeof v === "string" && v !== "" && v !== drop) n++;
  const out = new Array<string>(n);
  let i = 0;
  for (const v of list) if (typeof v === "string" && v !== "" && v !== drop) out[i++] = v;
  return out;
}

export function slimService(o: Json): SlimService {
  const { namespace, name, resourceVersion } = meta(o);
  const spec = o?.spec ?? {};
  const raw: Json[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [spec.clusterIP];
  const type = internString(str(spec.type) || "ClusterIP");
  return {
    kind: "service",
    key: objectKey(namespace, name),
    namespace,
    name,
    resourceVersion,
    type,
    clusterIPs: strings(raw, "None"),
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
      addresses: strings(e?.addresses),
      hostname: str(e?.hostname),
      podName: target && (target.kind === "Pod" || target.kind === undefined) ? str(target.name) : "",
    });
  }
  return {
    kind: "endpointslice",
    key: objectKey(namespace, name),
    namespace,
    name,
    resourceVersion,
    service: str(o?.metadata?.labels?.[SERVICE_NAME_LABEL]),
    addressType: internString(str(o?.addressType)),
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
    key: objectKey(namespace, name),
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

/**
 * A slim object that crossed a process boundary (JSON) shares its small strings and port lists
 * again, as one read from the API does: thousands of identical port lists held once, not per object.
 */
export function internSlim(o: SlimObject): SlimObject {
  switch (o.kind) {
    case "service":
      return {
        ...o,
        namespace: internString(o.namespace),
        type: internString(o.type),
        ports: internPorts([...o.ports]),
      };
    case "endpointslice":
      return {
        ...o,
        namespace: internString(o.namespace),
        addressType: internString(o.addressType),
        ports: internPorts([...o.ports]),
      };
    case "pod":
      return { ...o, namespace: internString(o.namespace) };
    case "namespace":
      return o;
  }
}
