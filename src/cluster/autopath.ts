// Server-side search path completion (CoreDNS `autopath @kubernetes`). Pure: given the client pod's
// namespace and the asked name, which names to try next; and, once one of them answered, the reply
// the client gets: `<asked> CNAME <found>` followed by the found answer.

import { HEADER_LENGTH, nameToWire, type QueryView, RCODE, TYPE } from "../dns/index.ts";
import { composeReply } from "./reply.ts";
import { copySections, type Rr } from "./wire.ts";

export interface AutopathCandidate {
  /** Lowercase presentation name with trailing dot. */
  name: string;
  /** Wire form of `name`, for dns/buildQuery. */
  wire: Buffer;
}

/** The pod's search path as kubelet writes it (ClusterFirst), then the node's, then the bare name. */
export function searchPath(podNamespace: string, zone: string, hostSearch: readonly string[]): string[] {
  const z = zone === "." ? "" : zone;
  const list = [`${podNamespace}.svc.${z}`, `svc.${z}`, z === "" ? "." : z];
  for (const s of hostSearch) {
    const canonical = s.toLowerCase().endsWith(".") ? s.toLowerCase() : `${s.toLowerCase()}.`;
    if (!list.includes(canonical)) list.push(canonical);
  }
  return list;
}

/**
 * The names to try after the asked one, in order, when `qname` (lowercase, trailing dot) is a
 * first-search-path expansion `<base>.<search[0]>`; null when autopath does not apply.
 */
export function autopathCandidates(qname: string, search: readonly string[]): AutopathCandidate[] | null {
  const first = search[0];
  if (first === undefined || qname.length <= first.length + 1 || !qname.endsWith(`.${first}`)) return null;
  const base = qname.slice(0, qname.length - first.length - 1);
  const out: AutopathCandidate[] = [];
  for (const suffix of search.slice(1)) {
    const name = suffix === "." ? `${base}.` : `${base}.${suffix}`;
    try {
      out.push({ name, wire: nameToWire(name) });
    } catch {
      // longer than 255 bytes with this suffix: cannot exist, skip it
    }
  }
  const bare = `${base}.`;
  if (!out.some((c) => c.name === bare)) out.push({ name: bare, wire: nameToWire(bare) });
  return out;
}

/** Whether a candidate's reply ends the search: anything but NXDOMAIN (CoreDNS autopath). */
export function candidateAccepted(reply: Buffer): boolean {
  return (
    reply.length >= HEADER_LENGTH &&
    (reply[3]! & 0x0f) !== RCODE.NXDOMAIN &&
    (reply[3]! & 0x0f) !== RCODE.SERVFAIL
  );
}

/**
 * The reply to the client's original query from the reply found for a candidate: the client's ID
 * and question, a CNAME from the asked name to the first answer owner that differs from it (TTL of
 * that record), then the found records. OPT is replaced by ours when the client sent one.
 */
export function autopathReply(view: QueryView, found: Buffer): Buffer | null {
  const sections = copySections(found);
  if (sections === null) return null;
  const answer: Rr[] = [];
  const asked = view.buf.toString("latin1", HEADER_LENGTH, view.qnameEnd).toLowerCase();
  for (const rr of sections.answer) {
    const owner = rr.name as string[];
    const ownerWire = nameToWireLabels(owner);
    if (ownerWire === asked) continue;
    answer.push({
      name: readQname(view),
      ttl: rr.ttl,
      data: { type: TYPE.CNAME, target: `${owner.join(".")}.` },
    });
    break;
  }
  answer.push(...sections.answer);
  const authoritative = (sections.flags & 0x0400) !== 0;
  return composeReply(
    view,
    sections.rcode,
    answer,
    sections.authority,
    sections.additional,
    authoritative,
    sections.flags,
  );
}

function nameToWireLabels(labels: string[]): string {
  let s = "";
  for (const l of labels) s += String.fromCharCode(l.length) + l.toLowerCase();
  return `${s}\0`;
}

function readQname(view: QueryView): string {
  let name = "";
  let i = HEADER_LENGTH;
  while (view.buf[i]! !== 0) {
    const len = view.buf[i]!;
    name += `${view.buf.toString("latin1", i + 1, i + 1 + len).toLowerCase()}.`;
    i += len + 1;
  }
  return name === "" ? "." : name;
}
