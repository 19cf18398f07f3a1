// ClusterRecords: the in-process `kubernetes` plugin. Reflector events go in (apply); complete
// wire replies come out (answer). Names are indexed by their lowercase wire form, and each
// name's reply per type is built once and then copied, so a query is a map lookup and a copy.
// Pure: no sockets, no timers; time comes from deps.now().

import type { KubernetesConfig } from "../config/types.ts";
import {
  CLASS_IN,
  HEADER_LENGTH,
  nameToWire,
  type QueryView,
  RCODE,
  renderStored,
  type StoredReply,
  TYPE,
} from "../dns/index.ts";
import type { ClusterEvent, ResourceKind } from "../kubeapi/types.ts";
import { type AutopathCandidate, autopathCandidates, searchPath } from "./autopath.ts";
import type { NameRecords } from "./build.ts";
import { ipFamily, undashIp } from "./ip.ts";
import {
  composeReply,
  glueFor,
  negativeReply,
  recordsFor,
  type SoaParams,
  soaRecord,
  storedAnswer,
} from "./reply.ts";
import { ClusterStore } from "./store.ts";
import { copySections, type Rr } from "./wire.ts";
import { type Zone, Zones } from "./zones.ts";

export { type AutopathCandidate, autopathReply, candidateAccepted } from "./autopath.ts";

export interface ClusterDeps {
  now(): number;
  /** Resolve a name through the daemon itself (ExternalName targets); a full reply or null. */
  resolve(nameWire: Buffer, qtype: number): Promise<Buffer | null>;
  /** `autopath @kubernetes` is configured: this node's pods are watched and autopath() works. */
  autopath?: boolean;
  /** The node's own search domains, tried after the cluster ones (as CoreDNS does). */
  hostSearch?: readonly string[];
}

export interface ClusterStats {
  services: number;
  endpointSlices: number;
  namespaces: number;
  pods: number;
  /** Names currently in the index. */
  names: number;
  serial: number;
  synced: boolean;
}

export interface Entry {
  /** Lowercase presentation name. */
  name: string;
  zone: Zone;
  records: NameRecords;
  /** Built answers per query type, made on first use (most names are never asked every type). */
  memo: Map<number, StoredReply | null> | null;
}

const MEMO_TYPES = new Set<number>([TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.PTR, TYPE.TXT, TYPE.CNAME]);

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
    if (event.type === "replace" && !this.isSynced) {
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
    if (!this.isSynced || view.qnameEnd === 0 || view.qclass !== CLASS_IN) return null;
    const zone = this.zones.match(view.buf, HEADER_LENGTH, view.qnameEnd);
    if (zone === null) return null;
    const key = view.buf.toString("latin1", HEADER_LENGTH, view.qnameEnd).toLowerCase();
    const entry = this.store.names.get(key);
    if (entry !== undefined) return this.answerEntry(view, entry);
    if (!zone.reverse) {
      const pod = this.answerPod(view, key, zone);
      if (pod !== undefined) return pod;
    }
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
    if (this.deps.autopath !== true || !this.isSynced || view.qnameEnd === 0) return null;
    const zone = this.zones.match(view.buf, HEADER_LENGTH, view.qnameEnd);
    if (zone === null || zone.reverse) return null;
    const namespace = this.store.podNamespace(clientIp);
    if (namespace === null) return null;
    const search = searchPath(namespace, zone.name, this.deps.hostSearch ?? []);
    return autopathCandidates(presentation(view), search);
  }

  stats(): ClusterStats {
    return {
      ...this.store.counts(),
      names: this.store.names.size,
      serial: this.soa.serial,
      synced: this.isSynced,
    };
  }

  private soaFor(view: QueryView, zone: Zone): SoaParams {
    this.soa.zoneOffset = view.qnameEnd - zone.wire.length;
    return this.soa;
  }

  private answerEntry(view: QueryView, entry: Entry): Buffer | Promise<Buffer | null> {
    const qtype = view.qtype;
    const records = entry.records;
    if (records.cname !== "" && (qtype === TYPE.A || qtype === TYPE.AAAA))
      return this.answerExternal(view, entry);
    if (records.apex && qtype === TYPE.SOA) {
      return composeReply(
        view,
        RCODE.NOERROR,
        [soaRecord(entry.name, this.soaFor(view, entry.zone))],
        [],
        [],
      );
    }
    let stored = entry.memo?.get(qtype);
    if (stored === undefined) {
      const rrs = recordsFor(entry.name, records, qtype, this.config.ttl);
      const glue = qtype === TYPE.SRV ? glueFor(records, this.config.ttl) : [];
      stored = rrs === null ? null : storedAnswer(entry.name, qtype, rrs, glue);
      if (MEMO_TYPES.has(qtype)) {
        entry.memo ??= new Map();
        entry.memo.set(qtype, stored);
      }
    }
    if (stored === null) return negativeReply(view, RCODE.NOERROR, this.soaFor(view, entry.zone));
    return renderStored(stored, view, 0, true, 0xffff);
  }

  /** ExternalName, A/AAAA: the CNAME, then the target's answer resolved through the daemon. */
  private async answerExternal(view: QueryView, entry: Entry): Promise<Buffer | null> {
    const ttl = this.config.ttl;
    const target = entry.records.cname;
    const answer: Rr[] = [{ name: entry.name, ttl, data: { type: TYPE.CNAME, target } }];
    if (target !== entry.name) {
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

  /** `<dashed-ip>.<ns>.pod.<zone>`; undefined when the name has another shape. */
  private answerPod(view: QueryView, key: string, zone: Zone): Buffer | null | undefined {
    const labels = wireLabels(key, key.length - zone.wire.length);
    if (labels.length !== 3 || labels[2] !== "pod" || this.config.pods === "disabled") return undefined;
    const [label, namespace] = labels as [string, string];
    if (!this.store.namespaceExposed(namespace)) return undefined;
    const ip = undashIp(label);
    if (ip === "") return undefined;
    // Only this node's pods are known: an unverified pod may live elsewhere, so kube-dns decides.
    if (this.config.pods === "verified" && !this.store.podAt(ip, namespace)) return null;
    const family = ipFamily(ip);
    const qtype = view.qtype;
    if ((family === 4 && qtype === TYPE.A) || (family === 6 && qtype === TYPE.AAAA)) {
      const name = presentation(view);
      const rr: Rr = {
        name,
        ttl: this.config.ttl,
        data: family === 4 ? { type: TYPE.A, ip } : { type: TYPE.AAAA, ip },
      };
      return composeReply(view, RCODE.NOERROR, [rr], [], []);
    }
    return negativeReply(view, RCODE.NOERROR, this.soaFor(view, zone));
  }
}

/** Which kinds a configuration needs: pods only for `pods verified` or autopath. */
export function requiredKinds(config: KubernetesConfig, autopath: boolean): ResourceKind[] {
  const kinds: ResourceKind[] = ["service", "namespace"];
  if (!config.noEndpoints) kinds.push("endpointslice");
  if (config.pods === "verified" || autopath) kinds.push("pod");
  return kinds;
}

/** Labels of a lowercase wire-form string up to `end` (the zone's start). */
function wireLabels(key: string, end: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < end) {
    const len = key.charCodeAt(i);
    out.push(key.slice(i + 1, i + 1 + len));
    i += len + 1;
  }
  return out;
}

function presentation(view: QueryView): string {
  const key = view.buf.toString("latin1", HEADER_LENGTH, view.qnameEnd).toLowerCase();
  const labels = wireLabels(key, key.length - 1);
  return labels.length === 0 ? "." : `${labels.join(".")}.`;
}
