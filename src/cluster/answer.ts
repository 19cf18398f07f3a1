// Positive cluster answers from a ServiceView: A/AAAA, SRV (with glue; weights and de-duplication
// as CoreDNS), PTR. Written by the shared Writer; SRV answers are kept on the view once built.

import { HEADER_LENGTH, type QueryView, TYPE } from "../dns/index.ts";
import type { SlimPort } from "../kubeapi/types.ts";
import { underscoreLabelIs } from "./labels.ts";
import type { Address, ServiceView } from "./view.ts";
import { writer } from "./writer.ts";

/** SRV weight as CoreDNS computes it: 100 split evenly over the (address, port) pairs, at least 1. */
export function weightFor(count: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, count)));
}

/** A/AAAA answer from the query type's family of distinct addresses; null when none (NODATA). */
export function addressReply(
  view: QueryView,
  addresses: readonly Address[],
  ttl: number,
  zoneWire: Buffer,
): Buffer | null {
  const v6 = view.qtype === TYPE.AAAA;
  writer.begin(view, ttl, zoneWire);
  for (const a of addresses) {
    if ((a.v6 !== null) !== v6) continue;
    if (!writer.address(HEADER_LENGTH, a)) break;
    writer.answers++;
  }
  if (writer.answers === 0 && !writer.truncated) return null;
  return writer.finish(view);
}

/**
 * Whether a named port answers `_<port>._<proto>` as spelled at those label offsets of `buf`
 * (portAt -1: any port name, the `_<proto>` empty non-terminal).
 */
export function portNamed(p: SlimPort, buf: Buffer, portAt: number, protoAt: number): boolean {
  return (
    p.name !== "" &&
    p.port >= 0 &&
    underscoreLabelIs(buf, protoAt, p.protocol) &&
    (portAt < 0 || underscoreLabelIs(buf, portAt, p.name))
  );
}

/**
 * SRV for the service name (portAt -1) or the `_port._proto` name whose labels are at portAt and
 * protoAt of the query: ClusterIP services point at the service, headless ones at each endpoint.
 * Null when none (NODATA).
 */
export function serviceSrvReply(
  view: QueryView,
  svc: ServiceView,
  portAt: number,
  protoAt: number,
  ttl: number,
  zoneWire: Buffer,
  memoize: boolean,
): Buffer | null {
  const buf = view.buf;
  const all = portAt < 0;
  // Built SRV answers are kept on the view (a rebuild makes a new view): owners point at the
  // question and targets are written in full, so the bytes after the question fit any spelling.
  // Only for the first zone: targets end in the zone asked.
  const memoKey = all ? "" : buf.toString("latin1", portAt, protoAt + buf[protoAt]! + 1).toLowerCase();
  const memo = memoize ? svc.srvMemo?.get(memoKey) : undefined;
  if (memo !== undefined) return writer.replay(view, memo);
  writer.begin(view, ttl, zoneWire);
  writer.service(svc);
  if (svc.kind === "cluster") {
    const ips = svc.clusterIps;
    const ports = svc.ports;
    if (ips.length === 0) return null;
    // one SRV per port (every ClusterIP is the same target), then each ClusterIP as glue
    let first = -1;
    portsWritten.length = 0;
    for (const p of ports) {
      if (all ? p.port < 0 : !portNamed(p, buf, portAt, protoAt)) continue;
      if (portsWritten.includes(p.port)) continue;
      portsWritten.push(p.port);
      const at = writer.srvTo("", p.port);
      if (first < 0) first = at;
    }
    if (first >= 0) for (const a of ips) writer.addGlue(a, first);
    writer.weights(weightFor(all ? ports.length * ips.length : ips.length));
  } else if (svc.kind === "headless") {
    if (!svc.srvDistinct) writer.deduplicate();
    let pairs = 0;
    for (const ep of svc.endpoints) {
      for (const p of ep.ports) {
        if (all) {
          pairs++;
          if (p.port >= 0) writer.srv(ep, p.port);
        } else if (portNamed(p, buf, portAt, protoAt)) {
          pairs++;
          writer.srv(ep, p.port);
        }
      }
    }
    writer.weights(weightFor(pairs));
  }
  writer.flushGlue();
  if (writer.answers === 0 && !writer.truncated) return null;
  if (memoize && !writer.truncated) {
    svc.srvMemo ??= new Map();
    svc.srvMemo.set(memoKey, writer.memo(view));
  }
  return writer.finish(view);
}

/** The port numbers a ClusterIP SRV answer already holds (one SRV per target and port). */
const portsWritten: number[] = [];

/** SRV for an endpoint name: its ports, weight over its (address, port) pairs. */
export function endpointSrvReply(
  view: QueryView,
  svc: ServiceView,
  endpoints: readonly Address[],
  ttl: number,
  zoneWire: Buffer,
): Buffer | null {
  writer.begin(view, ttl, zoneWire);
  writer.service(svc);
  writer.deduplicate();
  let pairs = 0;
  for (const ep of endpoints) {
    pairs += ep.ports.length;
    for (const p of ep.ports) if (p.port >= 0) writer.srv(ep, p.port);
  }
  writer.weights(weightFor(pairs));
  writer.flushGlue();
  if (writer.answers === 0 && !writer.truncated) return null;
  return writer.finish(view);
}

export interface PtrTarget {
  view: ServiceView;
  /** Endpoint host, or "" for the service (a ClusterIP). */
  host: string;
}

/** PTR answer: each target under the primary zone. */
export function ptrReply(
  view: QueryView,
  targets: readonly PtrTarget[],
  ttl: number,
  zoneWire: Buffer,
): Buffer {
  writer.begin(view, ttl, zoneWire);
  for (const t of targets) {
    writer.service(t.view);
    writer.ptr(t.host);
  }
  return writer.finish(view);
}

/** A ClusterIP wins over endpoint names for the same address (CoreDNS serviceRecordForIP). */
export function ptrTargets(sources: PtrTarget[]): PtrTarget[] {
  for (const t of sources) if (t.host === "") return [t];
  return sources;
}

/** Whether the service has a named port `_<port>._<proto>` (any name when portAt is -1) with an address. */
export function hasNamedPort(svc: ServiceView, buf: Buffer, portAt: number, protoAt: number): boolean {
  if (svc.kind === "cluster") return svc.clusterIps.length > 0 && anyNamed(svc.ports, buf, portAt, protoAt);
  let checked: ServiceView["ports"] | null = null;
  for (const ep of svc.endpoints) {
    if (ep.ports === checked) continue; // endpoints of one slice share its port list
    if (anyNamed(ep.ports, buf, portAt, protoAt)) return true;
    checked = ep.ports;
  }
  return false;
}

// A loop, not ports.some(closure): this runs for every `_port._proto` query.
function anyNamed(ports: ServiceView["ports"], buf: Buffer, portAt: number, protoAt: number): boolean {
  for (const p of ports) if (portNamed(p, buf, portAt, protoAt)) return true;
  return false;
}
