// ClusterRecords: the in-process `kubernetes` plugin. Reflector events go in (apply); complete
// wire replies come out (answer). A query name is taken apart by its labels under the zone
// (`<svc>.<ns>.svc`, `<host>.<svc>.<ns>.svc`, `_port._proto.<svc>.<ns>.svc`, `<ip>.<ns>.pod`, reverse
// names), the service is one map lookup, and the reply is written from its compact view.
// Pure: no sockets, no timers; time comes from deps.now().

import type { KubernetesConfig } from "../config/types.ts";
import { CLASS_IN, HEADER_LENGTH, nameToWire, type QueryView, RCODE, TYPE } from "../dns/index.ts";
import type { ClusterEvent, ResourceKind } from "../kubeapi/types.ts";
import {
  addressReply,
  endpointSrvReply,
  hasNamedPort,
  ptrReply,
  ptrTargets,
  serviceSrvReply,
} from "./answer.ts";
import { type AutopathCandidate, autopathCandidates, searchPath } from "./autopath.ts";
import { ipFamily, undashIp } from "./ip.ts";
import { label, labelIs, presentation, reverseIp } from "./labels.ts";
import { composeReply, negativeReply, type SoaParams, soaRecord } from "./reply.ts";
import { ClusterStore } from "./store.ts";
import { endpointsAt, type ServiceView } from "./view.ts";
import { copySections, type Rr } from "./wire.ts";
import { type Zone, Zones } from "./zones.ts";

export { type AutopathCandidate, autopathReply, candidateAccepted } from "./autopath.ts";
export { ipFamily, ipv4Bytes, ipv6Bytes } from "./ip.ts";

export interface ClusterDeps {
  now(): number;
  /** Resolve a name through the daemon itself (ExternalName targets); a full reply or null. */
  resolve(nameWire: Buffer, qtype: number): Promise<Buffer | null>;
  /** `autopath @kubernetes` is configured: this node's pods are watched and autopath() works. */
  autopath?: boolean;
  /** The node's own search domains, tried after the cluster ones (as CoreDNS does). */
  hostSearch?: readonly string[];
}

/** A pod of this node as `explain` names its client. */
export interface ClientPod {
  namespace: string;
  name: string;
  ip: string;
}

export interface ClusterStats {
  services: number;
  endpointSlices: number;
  namespaces: number;
  pods: number;
  /** Services that give names (in exposed namespaces, with records). */
  servicesIndexed: number;
  serial: number;
  synced: boolean;
}

const DNS_SCHEMA_VERSION = "1.1.0";
/** Label offsets of the question name above the zone (more than this many labels is NXDOMAIN). */
const MAX_LABELS = 6;
const labelAt = new Int32Array(MAX_LABELS + 1);

export class ClusterRecords {
  private readonly config: KubernetesConfig;
  private readonly deps: ClusterDeps;
  private readonly zones: Zones;
  private readonly store: ClusterStore;
  private readonly listeners: ((names: string[]) => void)[] = [];
  private readonly required: Set<ResourceKind>;
  private readonly soa: SoaParams = { zoneOffset: 0, serial: 0, soaTtl: 0, minimum: 0 };
  private isSynced = false;

  constructor(config: KubernetesConfig, deps: ClusterDeps) {
    this.config = config;
    this.deps = deps;
    this.zones = new Zones(config);
    this.required = new Set(requiredKinds(config, deps.autopath === true));
    this.soa.soaTtl = Math.min(config.ttl, 300);
    this.soa.minimum = config.ttl;
    this.soa.serial = Math.floor(deps.now() / 1000) >>> 0;
    this.store = new ClusterStore(config, this.zones);
  }

  /** The resource kinds this configuration needs watched. */
  get kinds(): ResourceKind[] {
    return [...this.required];
  }

  get synced(): boolean {
    return this.isSynced;
  }

  apply(event: ClusterEvent): void {
    const changed = this.store.apply(event);
    if ((event.type === "replace" || event.type === "prune") && !this.isSynced) {
      this.store.syncedKinds.add(event.kind);
      this.isSynced = [...this.required].every((k) => this.store.syncedKinds.has(k));
    }
    if (changed.size === 0) return;
    this.soa.serial = Math.max(this.soa.serial + 1, Math.floor(this.deps.now() / 1000)) >>> 0;
    const names = [...changed];
    for (const listener of this.listeners) listener(names);
  }

  /** Called with the lowercase names (trailing dot) whose answers, or answers below them, changed. */
  onChange(listener: (affectedNames: string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The complete reply for a parsed query, or null when it must go on down the chain: not synced
   * yet, not our zone or class, `fallthrough` for an NXDOMAIN, or a pod this node cannot verify.
   */
  answer(view: QueryView, _clientIp: string): Buffer | null | Promise<Buffer | null> {
    return this.answerWith(view, true);
  }

  /**
   * As answer(), for `explain`: an ExternalName's A/AAAA is its CNAME alone, since resolving the
   * target would send a query through the daemon.
   */
  peek(view: QueryView): Buffer | null {
    return this.answerWith(view, false) as Buffer | null;
  }

  private answerWith(view: QueryView, resolveExternal: boolean): Buffer | null | Promise<Buffer | null> {
    if (!this.isSynced || view.qnameEnd === 0 || view.qclass !== CLASS_IN) return null;
    const zone = this.zones.match(view.buf, HEADER_LENGTH, view.qnameEnd);
    if (zone === null) return null;
    const reply = zone.reverse
      ? this.answerReverse(view, zone)
      : this.answerForward(view, zone, resolveExternal);
    if (reply !== undefined) return reply;
    if (this.zones.fallsThrough(view.buf, HEADER_LENGTH, view.qnameEnd)) return null;
    return negativeReply(view, RCODE.NXDOMAIN, this.soaFor(view, zone));
  }

  /**
   * Autopath: when the client is a running pod of this node and the name is a first-search-path
   * expansion, the names to try after the asked one (in order); null otherwise. The server tries
   * the asked name, then these, until a reply is accepted (candidateAccepted), and answers with
   * autopathReply(view, thatReply); when none is, with the asked name's own reply.
   */
  autopath(view: QueryView, clientIp: string): AutopathCandidate[] | null {
    if (this.deps.autopath !== true || !this.isSynced) return null;
    const namespace = this.store.podNamespace(clientIp);
    return namespace === null ? null : this.autopathFor(view, namespace);
  }

  /** As autopath(), for a client pod of `namespace` whether or not one is running (`explain`). */
  autopathFor(view: QueryView, namespace: string): AutopathCandidate[] | null {
    if (this.deps.autopath !== true || !this.isSynced || view.qnameEnd === 0) return null;
    const zone = this.zones.match(view.buf, HEADER_LENGTH, view.qnameEnd);
    if (zone === null || zone.reverse) return null;
    return autopathCandidates(presentation(view), this.searchFor(namespace, zone.name));
  }

  /** The search list of a pod in `namespace` (kubelet's, then the node's domains). */
  searchFor(namespace: string, zone = this.zones.primary): string[] {
    return searchPath(namespace, zone, this.deps.hostSearch ?? []);
  }

  /** Whether this node's pods are watched (autopath, `pods verified`): only then are clients known. */
  get watchesPods(): boolean {
    return this.required.has("pod");
  }

  /** A running pod of this node: at `ip`, by namespace and name, or the first of a namespace. */
  pod(match: { ip?: string; namespace?: string; name?: string }): ClientPod | null {
    const pod = this.store.runningPod(match);
    if (pod === null) return null;
    return { namespace: pod.namespace, name: pod.name, ip: match.ip ?? pod.ips[0] ?? "" };
  }

  stats(): ClusterStats {
    return {
      ...this.store.counts(),
      servicesIndexed: this.store.views.size,
      serial: this.soa.serial,
      synced: this.isSynced,
    };
  }

  private soaFor(view: QueryView, zone: Zone): SoaParams {
    this.soa.zoneOffset = view.qnameEnd - zone.wire.length;
    return this.soa;
  }

  /** The zone apex: its SOA, NODATA for any other type. */
  private apex(view: QueryView, zone: Zone): Buffer {
    if (view.qtype !== TYPE.SOA) return this.nodata(view, zone);
    return composeReply(view, RCODE.NOERROR, [soaRecord(zone.name, this.soaFor(view, zone))], [], []);
  }

  private nodata(view: QueryView, zone: Zone): Buffer {
    return negativeReply(view, RCODE.NOERROR, this.soaFor(view, zone));
  }

  /** The reply for a name in a forward zone; undefined when the name does not exist. */
  private answerForward(
    view: QueryView,
    zone: Zone,
    resolveExternal: boolean,
  ): Buffer | null | Promise<Buffer | null> | undefined {
    const buf = view.buf;
    const zoneAt = view.qnameEnd - zone.wire.length;
    let n = 0;
    for (let i = HEADER_LENGTH; i < zoneAt; i += buf[i]! + 1) {
      if (n === MAX_LABELS) return undefined;
      labelAt[n++] = i;
    }
    labelAt[n] = zoneAt;
    const qtype = view.qtype;
    if (n === 0) return this.apex(view, zone);
    const top = labelAt[n - 1]!;
    if (labelIs(buf, top, "svc")) {
      if (n === 1) return this.nodata(view, zone);
      if (n === 2)
        return this.store.namespaceExposed(label(buf, labelAt[0]!)) ? this.nodata(view, zone) : undefined;
      if (n > 5) return undefined;
      const key = buf.toString("latin1", labelAt[n - 3]!, top).toLowerCase();
      const svc = this.store.views.get(key);
      if (svc === undefined) return undefined;
      if (n === 3) return this.answerService(view, zone, svc, resolveExternal);
      if (n === 4) return this.answerBelowService(view, zone, svc, labelAt[0]!);
      return this.answerNamedPort(view, zone, svc, labelAt[0]!, labelAt[1]!);
    }
    if (labelIs(buf, top, "pod")) {
      if (n === 1) return this.nodata(view, zone);
      const namespace = label(buf, labelAt[n - 2]!);
      if (n === 2) return this.store.namespaceExposed(namespace) ? this.nodata(view, zone) : undefined;
      if (n === 3) return this.answerPod(view, zone, label(buf, labelAt[0]!), namespace);
      return undefined;
    }
    if (n === 1 && labelIs(buf, top, "dns-version")) {
      if (qtype !== TYPE.TXT) return this.nodata(view, zone);
      const txt: Rr = {
        name: `dns-version.${zone.name}`,
        ttl: this.config.ttl,
        data: { type: TYPE.TXT, texts: [DNS_SCHEMA_VERSION] },
      };
      return composeReply(view, RCODE.NOERROR, [txt], [], []);
    }
    return undefined;
  }

  /** `<svc>.<ns>.svc.<zone>`. */
  private answerService(
    view: QueryView,
    zone: Zone,
    svc: ServiceView,
    resolveExternal: boolean,
  ): Buffer | Promise<Buffer | null> {
    const qtype = view.qtype;
    const ttl = this.config.ttl;
    let reply: Buffer | null = null;
    if (svc.kind === "external") {
      const cname: Rr = { name: presentation(view), ttl, data: { type: TYPE.CNAME, target: svc.cname } };
      if (resolveExternal && (qtype === TYPE.A || qtype === TYPE.AAAA))
        return this.answerExternal(view, cname, svc.cname);
      return composeReply(view, RCODE.NOERROR, [cname], [], []);
    }
    if (qtype === TYPE.A || qtype === TYPE.AAAA) reply = addressReply(view, svc.addresses, ttl, zone.wire);
    else if (qtype === TYPE.SRV)
      reply = serviceSrvReply(view, svc, -1, -1, ttl, zone.wire, zone === this.zones.forward[0]);
    return reply ?? this.nodata(view, zone);
  }

  /** `<host>.<svc>...` (an endpoint) or `_<proto>.<svc>...` (an empty non-terminal above named ports). */
  private answerBelowService(view: QueryView, zone: Zone, svc: ServiceView, at: number): Buffer | undefined {
    if (svc.kind === "external") return undefined;
    const buf = view.buf;
    if (buf[at + 1] === 0x5f) return hasNamedPort(svc, buf, -1, at) ? this.nodata(view, zone) : undefined;
    const endpoints = endpointsAt(svc, label(buf, at));
    if (endpoints.length === 0) return undefined;
    const qtype = view.qtype;
    const ttl = this.config.ttl;
    let reply: Buffer | null = null;
    if (qtype === TYPE.A || qtype === TYPE.AAAA) reply = addressReply(view, endpoints, ttl, zone.wire);
    else if (qtype === TYPE.SRV) reply = endpointSrvReply(view, svc, endpoints, ttl, zone.wire);
    return reply ?? this.nodata(view, zone);
  }

  /** `_<port>._<proto>.<svc>...`: SRV for the service's ports of that name and protocol. */
  private answerNamedPort(
    view: QueryView,
    zone: Zone,
    svc: ServiceView,
    portAt: number,
    protoAt: number,
  ): Buffer | undefined {
    if (svc.kind === "external" || !hasNamedPort(svc, view.buf, portAt, protoAt)) return undefined;
    if (view.qtype !== TYPE.SRV) return this.nodata(view, zone);
    const reply = serviceSrvReply(
      view,
      svc,
      portAt,
      protoAt,
      this.config.ttl,
      zone.wire,
      zone === this.zones.forward[0],
    );
    return reply ?? this.nodata(view, zone);
  }

  /** ExternalName, A/AAAA: the CNAME, then the target's answer resolved through the daemon. */
  private async answerExternal(view: QueryView, cname: Rr, target: string): Promise<Buffer | null> {
    const answer: Rr[] = [cname];
    if (target !== cname.name) {
      try {
        const reply = await this.deps.resolve(nameToWire(target), view.qtype);
        const sections = reply === null ? null : copySections(reply);
        if (sections !== null) answer.push(...sections.answer);
      } catch {
        // the target could not be resolved: the CNAME alone lets the client chase it
      }
    }
    return composeReply(view, RCODE.NOERROR, answer, [], []);
  }

  /** `<dashed-ip>.<ns>.pod.<zone>`; undefined when no such name. */
  private answerPod(
    view: QueryView,
    zone: Zone,
    first: string,
    namespace: string,
  ): Buffer | null | undefined {
    if (this.config.pods === "disabled" || !this.store.namespaceExposed(namespace)) return undefined;
    const ip = undashIp(first);
    if (ip === "") return undefined;
    // Only this node's pods are known: an unverified pod may live elsewhere, so kube-dns decides.
    if (this.config.pods === "verified" && !this.store.podAt(ip, namespace)) return null;
    const family = ipFamily(ip);
    const qtype = view.qtype;
    if ((family === 4 && qtype === TYPE.A) || (family === 6 && qtype === TYPE.AAAA)) {
      const rr: Rr = {
        name: presentation(view),
        ttl: this.config.ttl,
        data: family === 4 ? { type: TYPE.A, ip } : { type: TYPE.AAAA, ip },
      };
      return composeReply(view, RCODE.NOERROR, [rr], [], []);
    }
    return this.nodata(view, zone);
  }

  /** A name in a reverse zone: the apex, or a whole address with PTR targets. */
  private answerReverse(view: QueryView, zone: Zone): Buffer | undefined {
    if (view.qnameEnd - HEADER_LENGTH === zone.wire.length) return this.apex(view, zone);
    const ip = reverseIp(view.buf, view.qnameEnd);
    const sources = ip === "" ? undefined : this.store.ptr.get(ip);
    if (sources === undefined) return undefined;
    if (view.qtype !== TYPE.PTR) return this.nodata(view, zone);
    return ptrReply(view, ptrTargets(sources), this.config.ttl, this.zones.primaryWire);
  }
}

/** Which kinds a configuration needs: pods only for `pods verified` or autopath. */
export function requiredKinds(config: KubernetesConfig, autopath: boolean): ResourceKind[] {
  const kinds: ResourceKind[] = ["service", "namespace"];
  if (!config.noEndpoints) kinds.push("endpointslice");
  if (config.pods === "verified" || autopath) kinds.push("pod");
  return kinds;
}
