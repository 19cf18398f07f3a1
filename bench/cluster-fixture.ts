// The cluster the cluster-records scenario indexes: 10,000 Services (2,000 headless, 8,000 ClusterIP,
// all with named ports) in 100 Namespaces, one EndpointSlice of 5 ready endpoints each (50,000
// endpoints), served by the test suite's fake API server; the query files; and the watch-event burst.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  endpointSliceJson,
  type FakeKubeApi,
  namespaceJson,
  serviceJson,
} from "../test/support/kubeapi-server.ts";
import { ask } from "./dnsclient.ts";

export const CLUSTER_ZONE = "cluster.local";
export const SERVICES = 10_000;
export const NAMESPACES = 100;
export const ENDPOINTS_PER_SLICE = 5;
/** The last burst event moves headless service 0's first endpoint here. */
export const SENTINEL_IP = "10.250.0.1";

// biome-ignore lint/suspicious/noExplicitAny: API JSON
type Json = any;

const isHeadless = (i: number) => i % 5 === 0;
const nsOf = (i: number) => `ns${String(i % NAMESPACES).padStart(2, "0")}`;
const svcOf = (i: number) => `svc-${String(i).padStart(5, "0")}`;
const quad = (a: number, n: number) => `10.${a + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;

export function serviceName(i: number): string {
  return `${svcOf(i)}.${nsOf(i)}.svc.${CLUSTER_ZONE}`;
}

/** Endpoint j of service i at the start (10.128.0.0/11), and after burst round r (10.160+r.x.y). */
export function endpointIp(i: number, j: number, round = -1): string {
  const k = i * ENDPOINTS_PER_SLICE + j;
  return round < 0 ? quad(128, k) : quad(160 + (round % 32), k);
}

export function clusterIp(i: number): string {
  return quad(96, i + 1);
}

export interface Fixture {
  namespaces: number;
  services: number;
  headless: number;
  clusterIp: number;
  slices: number;
  endpoints: number;
  loadMs: number;
  /** The current slice objects (the burst edits them), index = service number. */
  sliceObjects: Json[];
}

/** Loads every object into the fake API server (before the daemon lists them). */
export function loadFixture(api: FakeKubeApi): Fixture {
  const t0 = performance.now();
  for (let n = 0; n < NAMESPACES; n++) api.create("namespace", namespaceJson(nsOf(n)));
  const svcPorts = [
    { name: "http", protocol: "TCP", port: 80 },
    { name: "metrics", protocol: "TCP", port: 9090 },
  ];
  const slicePorts = [
    { name: "http", protocol: "TCP", port: 8080 },
    { name: "metrics", protocol: "TCP", port: 9090 },
  ];
  const sliceObjects: Json[] = [];
  let headless = 0;
  for (let i = 0; i < SERVICES; i++) {
    const ns = nsOf(i);
    const name = svcOf(i);
    const h = isHeadless(i);
    if (h) headless++;
    api.create("service", serviceJson(ns, name, { clusterIP: h ? "None" : clusterIp(i), ports: svcPorts }));
    const endpoints = [];
    for (let j = 0; j < ENDPOINTS_PER_SLICE; j++) {
      endpoints.push({
        ip: endpointIp(i, j),
        ready: true,
        pod: `${name}-${j}`,
        ...(h ? { hostname: `${name}-${j}` } : {}),
      });
    }
    const slice = endpointSliceJson(ns, `${name}-abcde`, name, endpoints, slicePorts);
    api.create("endpointslice", slice);
    sliceObjects.push(slice);
  }
  return {
    namespaces: NAMESPACES,
    services: SERVICES,
    headless,
    clusterIp: SERVICES - headless,
    slices: sliceObjects.length,
    endpoints: sliceObjects.length * ENDPOINTS_PER_SLICE,
    loadMs: Math.round(performance.now() - t0),
    sliceObjects,
  };
}

/** dnsperf files: every service's A name, and every service's `_http._tcp` SRV name. */
export function writeClusterQueries(dir: string): { a: string; srv: string } {
  const a: string[] = [];
  const srv: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    a.push(`${serviceName(i)} A`);
    srv.push(`_http._tcp.${serviceName(i)} SRV`);
  }
  const paths = { a: join(dir, "cluster-a.txt"), srv: join(dir, "cluster-srv.txt") };
  writeFileSync(paths.a, `${a.join("\n")}\n`);
  writeFileSync(paths.srv, `${srv.join("\n")}\n`);
  return paths;
}

/** Service i's expected A answer after `events` burst events (headless: its 5 endpoint IPs). */
export function expectedHeadlessAfter(i: number, events: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < ENDPOINTS_PER_SLICE; j++) {
    // Event e edits slice e % SERVICES, endpoint (e / SERVICES) % 5 in round e / SERVICES.
    let last = -1;
    for (let round = 0; round * SERVICES + i < events - 1; round++) {
      if (round % ENDPOINTS_PER_SLICE === j) last = round;
    }
    out.push(i === 0 && j === 0 ? SENTINEL_IP : endpointIp(i, j, last));
  }
  return out.sort();
}

/**
 * `events` EndpointSlice MODIFIED events as fast as the fake server can write them (in chunks, so its
 * socket drains meanwhile): event e moves one endpoint of slice e % 10,000 to a new address; the
 * last one moves headless service 0's first endpoint to SENTINEL_IP. Resolves when all are written.
 */
export async function emitBurst(api: FakeKubeApi, fixture: Fixture, events: number): Promise<void> {
  const slices = fixture.sliceObjects;
  const edit = (s: number, j: number, ip: string) => {
    const old = slices[s];
    const endpoints = old.endpoints.slice();
    endpoints[j] = { ...endpoints[j], addresses: [ip] };
    const next = { ...old, endpoints };
    slices[s] = next;
    api.update("endpointslice", next);
  };
  const CHUNK = 500;
  for (let e = 0; e < events - 1; e++) {
    const s = e % SERVICES;
    const round = Math.floor(e / SERVICES);
    edit(s, round % ENDPOINTS_PER_SLICE, endpointIp(s, round % ENDPOINTS_PER_SLICE, round));
    if (e % CHUNK === CHUNK - 1) await new Promise((r) => setImmediate(r));
  }
  edit(0, 0, SENTINEL_IP);
}

/** Waits until the daemon at host:port answers dns-version.cluster.local (its index has synced). */
export async function waitIndexSynced(
  host: string,
  port: number,
  label: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await ask(host, port, "dns-version.cluster.local", "TXT"))?.data.length !== 1) {
    if (Date.now() > deadline)
      throw new Error(`${label}: cluster index not synced within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
