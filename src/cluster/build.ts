// From one Service and its EndpointSlices to the record sets of every name it owns, per CoreDNS's
// kubernetes plugin: service name, _port._proto names, endpoint names, and PTR contributions.

import type { SlimEndpointSlice, SlimPort, SlimService } from "../kubeapi/types.ts";
import { canonicalIp, dashedIp, ipFamily } from "./ip.ts";

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** Record sets of one name; empty arrays mean the name exists without that type (NODATA). */
export interface NameRecords {
  a: string[];
  aaaa: string[];
  srv: SrvRecord[];
  /** Glue for SRV targets: [name, ip] pairs for the Additional section. */
  glue: [string, string][];
  /** ExternalName target with trailing dot, or "". */
  cname: string;
  txt: string[];
  ptr: string[];
  /** The zone apex: answers SOA. */
  apex: boolean;
}

export function emptyRecords(): NameRecords {
  return { a: [], aaaa: [], srv: [], glue: [], cname: "", txt: [], ptr: [], apex: false };
}

export interface BuildOptions {
  endpointPodNames: boolean;
  ignoreEmptyService: boolean;
  noEndpoints: boolean;
}

export interface PtrSource {
  ip: string;
  target: string;
  /** A ClusterIP wins over endpoint names for the same address (CoreDNS serviceRecordForIP). */
  cluster: boolean;
}

export interface BuiltService {
  /** Lowercase presentation names (trailing dot) -> records. */
  names: Map<string, NameRecords>;
  ptr: PtrSource[];
}

interface Address {
  host: string;
  ip: string;
  ports: SlimPort[];
}

const SENTINEL: SlimPort[] = [{ name: "", port: -1, protocol: "" }];

function addresses(slices: Iterable<SlimEndpointSlice>, options: BuildOptions): Address[] {
  const out: Address[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const ports = slice.ports.length > 0 ? slice.ports : SENTINEL;
    for (const endpoint of slice.endpoints) {
      for (const raw of endpoint.addresses) {
        const ip = canonicalIp(raw);
        if (ip === "") continue;
        let host = endpoint.hostname.toLowerCase();
        if (host === "" && options.endpointPodNames && endpoint.podName.length < 64) {
          host = endpoint.podName.toLowerCase();
        }
        if (host === "") host = dashedIp(ip);
        const id = `${host}/${ip}`;
        if (seen.has(id)) continue; // the same endpoint in two slices while they are rebalanced
        seen.add(id);
        out.push({ host, ip, ports });
      }
    }
  }
  return out;
}

/** SRV weight as CoreDNS computes it: 100 split evenly over every (address, port) pair, at least 1. */
function weightFor(count: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, count)));
}

function addIp(records: NameRecords, ip: string): void {
  const list = ipFamily(ip) === 4 ? records.a : records.aaaa;
  if (!list.includes(ip)) list.push(ip);
}

function addSrv(records: NameRecords, srv: SrvRecord, glueIp: string): void {
  if (srv.port < 0) return;
  if (!records.srv.some((s) => s.target === srv.target && s.port === srv.port)) records.srv.push(srv);
  if (!records.glue.some(([n, ip]) => n === srv.target && ip === glueIp))
    records.glue.push([srv.target, glueIp]);
}

export function buildService(
  svc: SlimService,
  slices: Iterable<SlimEndpointSlice>,
  zone: string,
  options: BuildOptions,
): BuiltService {
  const names = new Map<string, NameRecords>();
  const ptr: PtrSource[] = [];
  const at = (name: string): NameRecords => {
    let records = names.get(name);
    if (records === undefined) {
      records = emptyRecords();
      names.set(name, records);
    }
    return records;
  };
  const base = `${svc.name}.${svc.namespace}.svc.${zone}`.toLowerCase();

  if (svc.type === "ExternalName") {
    // An IP-shaped externalName is no CNAME target; CoreDNS gives such a service no records.
    if (svc.externalName !== "" && ipFamily(svc.externalName) === 0) {
      at(base).cname = `${svc.externalName}.`;
    }
    return { names, ptr };
  }

  const eps = options.noEndpoints ? [] : addresses(slices, options);
  if (svc.headless && eps.length === 0) return { names, ptr }; // spec: no ready endpoints -> NXDOMAIN
  if (!svc.headless && options.ignoreEmptyService && eps.length === 0) return { names, ptr };

  // Endpoint names exist for every service kind (CoreDNS), each with its addresses and SRV.
  const byHost = new Map<string, Address[]>();
  for (const ep of eps) {
    const list = byHost.get(ep.host);
    if (list === undefined) byHost.set(ep.host, [ep]);
    else list.push(ep);
  }
  for (const [host, list] of byHost) {
    const name = `${host}.${base}`;
    const records = at(name);
    const count = list.reduce((n, ep) => n + ep.ports.length, 0);
    for (const ep of list) {
      addIp(records, ep.ip);
      for (const p of ep.ports) {
        addSrv(records, { priority: 0, weight: weightFor(count), port: p.port, target: name }, ep.ip);
      }
      ptr.push({ ip: ep.ip, target: name, cluster: false });
    }
  }

  const named = new Map<string, number>(); // "_port._proto" -> (address, port) pairs for weights
  const namedKey = (p: SlimPort) => `_${p.name.toLowerCase()}._${p.protocol.toLowerCase()}`;

  if (svc.headless) {
    const records = at(base);
    for (const ep of eps) {
      for (const p of ep.ports) {
        if (p.name !== "") named.set(namedKey(p), (named.get(namedKey(p)) ?? 0) + 1);
      }
    }
    const total = eps.reduce((n, ep) => n + ep.ports.length, 0);
    for (const ep of eps) {
      addIp(records, ep.ip);
      const target = `${ep.host}.${base}`;
      for (const p of ep.ports) {
        addSrv(records, { priority: 0, weight: weightFor(total), port: p.port, target }, ep.ip);
        if (p.name === "") continue;
        const key = namedKey(p);
        const srv = { priority: 0, weight: weightFor(named.get(key)!), port: p.port, target };
        addSrv(at(`${key}.${base}`), srv, ep.ip);
      }
    }
  } else {
    const records = at(base);
    const ips = svc.clusterIPs.map(canonicalIp).filter((ip) => ip !== "");
    const ports = svc.ports.length > 0 ? svc.ports : SENTINEL;
    for (const ip of ips) {
      addIp(records, ip);
      ptr.push({ ip, target: base, cluster: true });
      for (const p of ports) {
        addSrv(
          records,
          { priority: 0, weight: weightFor(ports.length * ips.length), port: p.port, target: base },
          ip,
        );
        if (p.name === "") continue;
        const srv = { priority: 0, weight: weightFor(ips.length), port: p.port, target: base };
        addSrv(at(`${namedKey(p)}.${base}`), srv, ip);
      }
    }
  }
  // The "_proto" label between a port name and the service is an empty non-terminal: NODATA.
  for (const name of [...names.keys()]) {
    if (name.startsWith("_") && name.endsWith(base)) at(name.slice(name.indexOf(".") + 1));
  }
  return { names, ptr };
}
