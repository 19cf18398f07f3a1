// Positive cluster answers written straight from a ServiceView into one scratch buffer, then copied
// out: the reply is the only allocation. Every answer owner is the question name (a pointer to it,
// so the client's spelling comes back), SRV targets are written in full (RFC 2782: no compression),
// glue owners point at their SRV target. Weights and de-duplication follow CoreDNS.

import {
  ADVERTISED_UDP_SIZE,
  EDNS_DO,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  HEADER_LENGTH,
  OPCODE_MASK,
  OPT_RECORD_LENGTH,
  type QueryView,
  TYPE,
} from "../dns/index.ts";
import type { SlimPort } from "../kubeapi/types.ts";
import type { Address, ServiceView } from "./view.ts";

/** Past this a reply stops growing and says TC (TCP's 64 KiB, less our OPT). */
const MAX_REPLY = 65535 - OPT_RECORD_LENGTH;
const scratch = Buffer.allocUnsafe(MAX_REPLY + 512);

/** SRV weight as CoreDNS computes it: 100 split evenly over the (address, port) pairs, at least 1. */
export function weightFor(count: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, count)));
}

/** One reply under construction (there is one at a time: answers are written synchronously). */
class Writer {
  pos = 0;
  answers = 0;
  additional = 0;
  truncated = false;
  private ttl = 0;
  private zone: Buffer = scratch;
  private readonly glue: Address[] = [];
  /** (target host, port) pairs written: the port alone for the service itself. */
  private readonly seenSrv = new Set<string | number>();
  /** Where each target host's name was first written, for the glue owner pointers. */
  private readonly targetAt = new Map<string, number>();

  begin(view: QueryView, ttl: number, zoneWire: Buffer): void {
    view.buf.copy(scratch, 0, 0, view.questionEnd);
    this.pos = view.questionEnd;
    this.answers = 0;
    this.additional = 0;
    this.truncated = false;
    this.ttl = ttl;
    this.zone = zoneWire;
    this.glue.length = 0;
    if (this.seenSrv.size > 0) this.seenSrv.clear();
    if (this.targetAt.size > 0) this.targetAt.clear();
  }

  private room(n: number): boolean {
    if (this.pos + n <= MAX_REPLY) return true;
    this.truncated = true;
    return false;
  }

  /** Type, class IN, TTL and RDLENGTH after an owner already written. */
  private tail(type: number, rdLength: number): void {
    const p = this.pos;
    scratch.writeUInt16BE(type, p);
    scratch.writeUInt16BE(1, p + 2);
    scratch.writeUInt32BE(this.ttl, p + 4);
    scratch.writeUInt16BE(rdLength, p + 8);
    this.pos = p + 10;
  }

  private pointer(at: number): void {
    scratch.writeUInt16BE(0xc000 | at, this.pos);
    this.pos += 2;
  }

  /** An A or AAAA record owned by the name at `ownerAt`, or (-1) by the host's target written in full. */
  address(ownerAt: number, a: Address): boolean {
    const v6 = a.v6;
    const owner = ownerAt >= 0 ? 2 : this.targetLength(a.host);
    if (!this.room(owner + (v6 === null ? 14 : 26))) return false;
    if (ownerAt >= 0) this.pointer(ownerAt);
    else this.target(a.host);
    if (v6 === null) {
      this.tail(TYPE.A, 4);
      scratch.writeUInt32BE(a.v4, this.pos);
      this.pos += 4;
    } else {
      this.tail(TYPE.AAAA, 16);
      v6.copy(scratch, this.pos);
      this.pos += 16;
    }
    return true;
  }

  private prefix = "";

  /** The service whose names srv() and ptr() write. */
  service(view: ServiceView): void {
    this.prefix = view.targetPrefix;
  }

  private targetLength(host: string): number {
    return (host === "" ? 0 : host.length + 1) + this.prefix.length + this.zone.length;
  }

  private target(host: string): void {
    let p = this.pos;
    if (host !== "") {
      scratch[p] = host.length;
      p += scratch.write(host, p + 1, "latin1") + 1;
    }
    p += scratch.write(this.prefix, p, "latin1");
    p += this.zone.copy(scratch, p);
    this.pos = p;
  }

  /** A qname-owned SRV to the address's host (the service for a ClusterIP), once per (target, port). */
  srv(a: Address, port: number, weight: number): void {
    const host = a.host;
    const id = host === "" ? port : `${host}/${port}`;
    if (!this.seenSrv.has(id)) {
      const nameLength = this.targetLength(host);
      if (!this.room(18 + nameLength)) return;
      this.seenSrv.add(id);
      this.pointer(HEADER_LENGTH);
      this.tail(TYPE.SRV, 6 + nameLength);
      scratch.writeUInt16BE(0, this.pos);
      scratch.writeUInt16BE(weight, this.pos + 2);
      scratch.writeUInt16BE(port, this.pos + 4);
      this.pos += 6;
      if (!this.targetAt.has(host)) this.targetAt.set(host, this.pos);
      this.target(host);
      this.answers++;
    }
    // one glue record per address: its ports come one after another
    if (this.glue[this.glue.length - 1] !== a) this.glue.push(a);
  }

  /** The glue collected by srv(), in the Additional section. */
  flushGlue(): void {
    for (const a of this.glue) {
      const at = this.targetAt.get(a.host) ?? -1;
      if (!this.address(at <= 0x3fff ? at : -1, a)) return;
      this.additional++;
    }
  }

  /** A qname-owned PTR to the address's host name (the service for a ClusterIP). */
  ptr(host: string): void {
    const nameLength = this.targetLength(host);
    if (!this.room(12 + nameLength)) return;
    this.pointer(HEADER_LENGTH);
    this.tail(TYPE.PTR, nameLength);
    this.target(host);
    this.answers++;
  }

  finish(view: QueryView): Buffer {
    const flags =
      FLAG_QR |
      (view.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) |
      FLAG_AA |
      FLAG_RA |
      (this.truncated ? FLAG_TC : 0);
    scratch.writeUInt16BE(flags, 2);
    scratch.writeUInt16BE(1, 4);
    scratch.writeUInt16BE(this.answers, 6);
    scratch.writeUInt16BE(0, 8);
    scratch.writeUInt16BE(this.additional + (view.hasOpt ? 1 : 0), 10);
    let p = this.pos;
    if (view.hasOpt) {
      scratch[p] = 0;
      scratch.writeUInt16BE(TYPE.OPT, p + 1);
      scratch.writeUInt16BE(ADVERTISED_UDP_SIZE, p + 3);
      scratch.writeUInt32BE(view.dnssecOk ? EDNS_DO : 0, p + 5);
      scratch.writeUInt16BE(0, p + 9);
      p += OPT_RECORD_LENGTH;
    }
    const out = Buffer.allocUnsafe(p);
    scratch.copy(out, 0, 0, p);
    return out;
  }
}

const writer = new Writer();

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

/** Whether the wire label at `at` is `_<text>`, ASCII case-insensitively. */
export function underscoreLabelIs(buf: Buffer, at: number, text: string): boolean {
  const n = text.length;
  if (buf[at] !== n + 1 || buf[at + 1] !== 0x5f) return false;
  for (let k = 0; k < n; k++)
    if (lowerAscii(buf[at + 2 + k]!) !== lowerAscii(text.charCodeAt(k))) return false;
  return true;
}

function lowerAscii(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether a named port answers `_<port>._<proto>` as spelled at those label offsets of `buf`. */
export function portNamed(p: SlimPort, buf: Buffer, portAt: number, protoAt: number): boolean {
  return (
    p.name !== "" &&
    p.port >= 0 &&
    underscoreLabelIs(buf, protoAt, p.protocol) &&
    underscoreLabelIs(buf, portAt, p.name)
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
): Buffer | null {
  const buf = view.buf;
  const all = portAt < 0;
  writer.begin(view, ttl, zoneWire);
  writer.service(svc);
  if (svc.kind === "cluster") {
    const ips = svc.clusterIps;
    const weight = weightFor(all ? svc.ports.length * ips.length : ips.length);
    for (const a of ips) {
      for (const p of svc.ports) {
        if (all ? p.port >= 0 : portNamed(p, buf, portAt, protoAt)) writer.srv(a, p.port, weight);
      }
    }
  } else if (svc.kind === "headless") {
    let pairs = 0;
    for (const ep of svc.endpoints) {
      if (all) pairs += ep.ports.length;
      else for (const p of ep.ports) if (portNamed(p, buf, portAt, protoAt)) pairs++;
    }
    const weight = weightFor(pairs);
    for (const ep of svc.endpoints) {
      for (const p of ep.ports) {
        if (all ? p.port >= 0 : portNamed(p, buf, portAt, protoAt)) writer.srv(ep, p.port, weight);
      }
    }
  }
  writer.flushGlue();
  if (writer.answers === 0 && !writer.truncated) return null;
  return writer.finish(view);
}

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
  let pairs = 0;
  for (const ep of endpoints) pairs += ep.ports.length;
  const weight = weightFor(pairs);
  for (const ep of endpoints) for (const p of ep.ports) if (p.port >= 0) writer.srv(ep, p.port, weight);
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
