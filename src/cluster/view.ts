// From one Service and its EndpointSlices to the compact view its answers are written from, per
// CoreDNS's kubernetes plugin. Nothing is stored per DNS name: the names a service owns (its own,
// `_port._proto`, `_proto`, and one per endpoint host) are resolved against this view per query, so
// the index costs one small object per address instead of record sets, strings and replies per name.

import type { SlimEndpointSlice, SlimPort, SlimService } from "../kubeapi/types.ts";
import { canonicalIp, dashedIp, ipFamily, ipv6Bytes } from "./ip.ts";

export interface BuildOptions {
  endpointPodNames: boolean;
  ignoreEmptyService: boolean;
  noEndpoints: boolean;
}

/** One address: a ClusterIP, or a ready endpoint address with its host label and ports. */
export interface Address {
  /** Canonical text form. */
  ip: string;
  /** IPv4 as an unsigned 32-bit number; -1 for IPv6. */
  v4: number;
  /** IPv6 bytes; null for IPv4. */
  v6: Buffer | null;
  /** Endpoint host label (lowercase): hostname, pod name, or the dashed IP. "" for a ClusterIP. */
  host: string;
  /** The host label is the dashed IP (no hostname or pod name gave one). */
  dashed: boolean;
  /** The endpoint's ports (its slice's; one port -1 when the slice lists none). */
  ports: readonly SlimPort[];
}

export type ServiceKind = "cluster" | "headless" | "external";

export interface ServiceView {
  /** "namespace/name", the store's service key. */
  serviceKey: string;
  /** Lookup key: the lowercase wire labels `<name><namespace>` (no terminator). */
  key: string;
  /** Wire labels `<name><namespace>svc` as latin1 (lowercase, no terminator): targets are these + zone. */
  targetPrefix: string;
  kind: ServiceKind;
  /** ExternalName target with trailing dot ("external" only). */
  cname: string;
  /** ClusterIPs ("cluster" only). */
  clusterIps: Address[];
  /** spec.ports, or one port -1 when none ("cluster" only). */
  ports: readonly SlimPort[];
  /** Ready endpoint addresses, deduplicated by (host, ip), in slice order. */
  endpoints: readonly Address[];
  /** The service name's A/AAAA: the ClusterIPs, or (headless) the endpoints with distinct IPs. */
  addresses: readonly Address[];
  /** No two endpoints share a host and no port list repeats a port: SRV needs no de-duplication. */
  srvDistinct: boolean;
  /** SRV answers built for this view, by the asked `_port._proto` labels ("" for the service name). */
  srvMemo: Map<string, string> | null;
  /** Endpoints by host, made on the first host lookup of a large service. */
  byHost: Map<string, Address[]> | null;
}

export const NO_PORT: readonly SlimPort[] = Object.freeze([{ name: "", port: -1, protocol: "" }]);
const NONE: Address[] = [];
Object.freeze(NONE);

export function address(ip: string, host: string, ports: readonly SlimPort[], dashed = false): Address {
  const family = ipFamily(ip);
  let v4 = -1;
  if (family === 4) {
    const p = ip.split(".");
    v4 = ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
  }
  return { ip, v4, v6: family === 6 ? ipv6Bytes(ip) : null, host, dashed, ports };
}

/** Wire labels as a latin1 string (no terminator), flat: built by join, not by +=, which keeps every piece. */
function labelsWire(labels: string[]): string {
  const parts: string[] = [];
  for (const l of labels) parts.push(String.fromCharCode(l.length), l);
  return parts.join("");
}

/** The lookup key of `<name>.<namespace>` as the query's lowercase wire bytes spell it. */
export function serviceLookupKey(namespace: string, name: string): string {
  return labelsWire([name.toLowerCase(), namespace.toLowerCase()]);
}

/**
 * The ready addresses of one EndpointSlice with their host labels, deduplicated by (host, ip), in an
 * array of exactly their number: this is all the index keeps of a slice. Addresses of `previous` (the
 * slice's last version) that did not change are reused: a rollout changes one endpoint at a time,
 * and parsing every address again was most of the index's work in a burst.
 */
export function sliceAddresses(
  slice: SlimEndpointSlice,
  options: BuildOptions,
  previous: readonly Address[] = NONE,
): readonly Address[] {
  if (options.noEndpoints || (slice.addressType !== "IPv4" && slice.addressType !== "IPv6")) return NONE;
  const ports = slice.ports.length > 0 ? slice.ports : NO_PORT;
  const reusable = previous.length > 16 ? byIp(previous) : null;
  const out: Address[] = [];
  for (const endpoint of slice.endpoints) {
    let named = endpoint.hostname.toLowerCase();
    if (named === "" && options.endpointPodNames && endpoint.podName.length < 64) {
      named = endpoint.podName.toLowerCase();
    }
    for (const raw of endpoint.addresses) {
      const same = reusable === null ? previous : (reusable.get(raw) ?? NONE);
      const kept = same.find(
        (a) => a.ip === raw && a.ports === ports && (named === "" ? a.dashed : !a.dashed && a.host === named),
      );
      if (kept !== undefined) {
        out.push(kept);
        continue;
      }
      const ip = canonicalIp(raw);
      if (ip === "") continue;
      out.push(named === "" ? address(ip, dashedIp(ip), ports, true) : address(ip, named, ports));
    }
  }
  return out.length === 0 ? NONE : dedupe([out]);
}

function byIp(addresses: readonly Address[]): Map<string, Address[]> {
  const map = new Map<string, Address[]>();
  for (const a of addresses) {
    const list = map.get(a.ip);
    if (list === undefined) map.set(a.ip, [a]);
    else list.push(a);
  }
  return map;
}

/** The addresses of all lists, first of each (host, ip) kept (an endpoint may sit in two slices while they are rebalanced). */
function dedupe(lists: readonly (readonly Address[])[]): Address[] {
  const seen = new Set<string>();
  const out: Address[] = [];
  for (const list of lists) {
    for (const a of list) {
      const id = `${a.host}/${a.ip}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(a);
    }
  }
  return out.slice(); // exact capacity: push leaves spare room, and 50,000 spares add up
}

/** The service's view, or null when it gives no names at all (its name is NXDOMAIN). */
export function buildView(
  svc: SlimService,
  slices: readonly (readonly Address[])[],
  options: BuildOptions,
): ServiceView | null {
  const name = svc.name.toLowerCase();
  const namespace = svc.namespace.toLowerCase();
  const view: ServiceView = {
    serviceKey: svc.key,
    key: serviceLookupKey(namespace, name),
    targetPrefix: labelsWire([name, namespace, "svc"]),
    kind: svc.type === "ExternalName" ? "external" : svc.headless ? "headless" : "cluster",
    cname: "",
    clusterIps: NONE,
    ports: NO_PORT,
    endpoints: NONE,
    addresses: NONE,
    srvDistinct: true,
    srvMemo: null,
    byHost: null,
  };
  if (view.kind === "external") {
    // An IP-shaped externalName is no CNAME target; CoreDNS gives such a service no records.
    if (svc.externalName === "" || ipFamily(svc.externalName) !== 0) return null;
    view.cname = `${svc.externalName}.`;
    return view;
  }
  const nonEmpty = slices.filter((list) => list.length > 0);
  // one slice (the usual case): its list is already deduplicated, and is shared rather than copied
  const endpoints =
    options.noEndpoints || nonEmpty.length === 0
      ? NONE
      : nonEmpty.length === 1
        ? nonEmpty[0]!
        : dedupe(nonEmpty);
  if (endpoints.length > 0) view.endpoints = endpoints;
  if (view.kind === "headless") {
    if (endpoints.length === 0) return null; // spec: no ready endpoints -> NXDOMAIN
    view.addresses = distinctIps(endpoints);
    view.srvDistinct = srvDistinct(endpoints);
    return view;
  }
  if (options.ignoreEmptyService && endpoints.length === 0) return null;
  const ips = svc.clusterIPs.map(canonicalIp).filter((ip, i, all) => ip !== "" && all.indexOf(ip) === i);
  if (ips.length > 0) view.clusterIps = ips.map((ip) => address(ip, "", NO_PORT));
  view.addresses = view.clusterIps;
  if (svc.ports.length > 0) view.ports = svc.ports;
  return view;
}

/** The addresses with an IP not seen before (one IP under two hosts answers once); usually `all`. */
function distinctIps(all: readonly Address[]): readonly Address[] {
  const seen = new Set<string>();
  for (const a of all) seen.add(a.ip);
  if (seen.size === all.length) return all;
  seen.clear();
  return all.filter((a) => !seen.has(a.ip) && seen.add(a.ip) !== undefined).slice();
}

function srvDistinct(endpoints: readonly Address[]): boolean {
  const hosts = new Set<string>();
  let checked: readonly SlimPort[] | null = null;
  for (const ep of endpoints) {
    if (hosts.has(ep.host)) return false;
    hosts.add(ep.host);
    if (ep.ports === checked) continue;
    const numbers = new Set<number>();
    for (const p of ep.ports) {
      if (p.port >= 0 && numbers.has(p.port)) return false;
      numbers.add(p.port);
    }
    checked = ep.ports;
  }
  return true;
}

/** The endpoints named `host` (lowercase label). */
export function endpointsAt(view: ServiceView, host: string): Address[] {
  const all = view.endpoints;
  if (all.length <= 16) {
    const out: Address[] = [];
    for (const ep of all) if (ep.host === host) out.push(ep);
    return out;
  }
  if (view.byHost === null) {
    view.byHost = new Map();
    for (const ep of all) {
      const list = view.byHost.get(ep.host);
      if (list === undefined) view.byHost.set(ep.host, [ep]);
      else list.push(ep);
    }
  }
  return view.byHost.get(host) ?? NONE;
}
