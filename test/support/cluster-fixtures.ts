// Builders for cluster tests: config, slim objects, queries and decoded answers.

import dnsPacket from "dns-packet";
import { type ClusterDeps, ClusterRecords } from "../../src/cluster/index.ts";
import { KUBERNETES_DEFAULTS } from "../../src/config/index.ts";
import type { KubernetesConfig } from "../../src/config/types.ts";
import { parseQuery, QueryView } from "../../src/dns/index.ts";
import type {
  SlimEndpoint,
  SlimEndpointSlice,
  SlimNamespace,
  SlimPod,
  SlimPort,
  SlimService,
} from "../../src/kubeapi/types.ts";
import { decodePacket, type LoosePacket } from "./loose-packet.ts";

export function kubeConfig(overrides: Partial<KubernetesConfig> = {}): KubernetesConfig {
  return {
    ...KUBERNETES_DEFAULTS,
    namespaces: [],
    zones: ["cluster.local.", "in-addr.arpa.", "ip6.arpa."],
    line: 1,
    ...overrides,
  };
}

let rv = 1;
export function ns(name: string): SlimNamespace {
  return { kind: "namespace", key: name, name, resourceVersion: String(rv++) };
}

export function svc(namespace: string, name: string, spec: Partial<SlimService> = {}): SlimService {
  return {
    kind: "service",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion: String(rv++),
    type: "ClusterIP",
    clusterIPs: [],
    headless: false,
    externalName: "",
    ports: [],
    ...spec,
  };
}

export function slice(
  namespace: string,
  service: string,
  name: string,
  endpoints: Partial<SlimEndpoint>[],
  ports: SlimPort[] = [],
  addressType = "IPv4",
): SlimEndpointSlice {
  return {
    kind: "endpointslice",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion: String(rv++),
    service,
    addressType,
    endpoints: endpoints.map((e) => ({ addresses: [], hostname: "", podName: "", ...e })),
    ports,
  };
}

export function pod(namespace: string, name: string, ips: string[], phase = "Running"): SlimPod {
  return {
    kind: "pod",
    key: `${namespace}/${name}`,
    namespace,
    name,
    resourceVersion: String(rv++),
    ips,
    phase,
    nodeName: "node-1",
  };
}

export function records(
  config: KubernetesConfig = kubeConfig(),
  deps: Partial<ClusterDeps> = {},
): ClusterRecords {
  return new ClusterRecords(config, {
    now: () => 1_700_000_000_000,
    resolve: async () => null,
    ...deps,
  });
}

/** Mark every kind synced with empty sets. */
export function syncEmpty(r: ClusterRecords): void {
  for (const kind of r.kinds) r.apply({ type: "replace", kind, objects: [] });
}

export function query(name: string, type: string, options: { edns?: boolean; id?: number } = {}): QueryView {
  const buf = dnsPacket.encode({
    type: "query",
    id: options.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name, class: "IN" }],
    additionals: options.edns ? [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as dnsPacket.Answer] : [],
  });
  const view = new QueryView();
  parseQuery(buf, view);
  return view;
}

export async function ask(
  r: ClusterRecords,
  name: string,
  type: string,
  options: { edns?: boolean; client?: string } = {},
): Promise<LoosePacket | null> {
  const out = await r.answer(query(name, type, options), options.client ?? "10.1.0.9");
  return out === null ? null : decodePacket(out);
}

export function rcodeOf(p: LoosePacket): string {
  return (p as { rcode?: string }).rcode ?? "NOERROR";
}
