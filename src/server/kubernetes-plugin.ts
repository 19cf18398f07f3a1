// Cluster records in the chain: answers from the in-process index, `autopath @kubernetes`
// search-path completion, and everything the index cannot answer passed on (to kube-dns).

import {
  type AutopathCandidate,
  autopathReply,
  type ClusterRecords,
  candidateAccepted,
} from "../cluster/index.ts";
import { buildQuery, errorReply, PARSE_OK, parseQuery, RCODE } from "../dns/index.ts";
import { deliver, type Handler, type Next } from "./chain.ts";
import { Query, type ReplyInterceptor, type Transport } from "./query.ts";

const internalTransport: Transport = { proto: "tcp", server: "", send() {} };

export class KubernetesPlugin implements Handler {
  readonly name = "kubernetes" as const;
  readonly records: ClusterRecords;
  /** `autopath @kubernetes` is on for this block. */
  readonly autopath: boolean;
  private readonly onError: (error: unknown) => void;

  constructor(records: ClusterRecords, autopath: boolean, onError: (error: unknown) => void) {
    this.records = records;
    this.autopath = autopath;
    this.onError = onError;
  }

  handle(query: Query, next: Next): void {
    if (this.autopath && this.records.synced) {
      const candidates = this.records.autopath(query, query.remoteAddress);
      if (candidates !== null) {
        this.complete(query, next, candidates).catch((error: unknown) => this.fail(query, error));
        return;
      }
    }
    const out = this.records.answer(query, query.remoteAddress);
    if (out === null) {
      next(query);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (reply) => (reply === null ? next(query) : this.answer(query, reply)),
        (error: unknown) => this.fail(query, error),
      );
      return;
    }
    query.clientReady = true; // the index renders its answer for this very query
    this.answer(query, out);
  }

  /** Index answers are never cached: they are as cheap as a hit and must change with the watch. */
  private answer(query: Query, reply: Buffer, cacheable = false): void {
    query.plugin = "kubernetes";
    query.noStore = !cacheable;
    deliver(query, reply);
  }

  private fail(query: Query, error: unknown): void {
    this.onError(error);
    query.sendFailure(() => errorReply(query, RCODE.SERVFAIL));
  }

  /**
   * Autopath: the asked name first; when it does not exist, each remaining search-path candidate
   * in order (through the index, else down the chain); the first that exists answers as
   * `<asked> CNAME <found>` plus its records.
   */
  private async complete(query: Query, next: Next, candidates: AutopathCandidate[]): Promise<void> {
    const first = await this.resolve(query, next);
    if (first !== null && candidateAccepted(first)) {
      this.answer(query, first);
      return;
    }
    for (const candidate of candidates) {
      const inner = new Query(internalTransport, query.remoteAddress, query.remotePort, query.family);
      if (parseQuery(buildQuery(query.id, candidate.wire, query.qtype), inner) !== PARSE_OK) continue;
      const found = await this.resolve(inner, next);
      if (found !== null && candidateAccepted(found)) {
        const reply = autopathReply(query, found);
        if (reply !== null) {
          this.answer(query, reply, true); // cached as CoreDNS does, so outside names skip the walk
          return;
        }
      }
    }
    if (first !== null) this.answer(query, first);
    else next(query);
  }

  /** One name through the index, else the rest of the chain; the raw reply, or null. */
  private resolve(query: Query, next: Next): Promise<Buffer | null> {
    const local = this.records.answer(query, query.remoteAddress);
    if (local !== null) return Promise.resolve(local);
    return new Promise((resolve) => {
      const inner = new Query(internalTransport, query.remoteAddress, query.remotePort, query.family);
      if (parseQuery(Buffer.from(query.buf), inner) !== PARSE_OK) {
        resolve(null);
        return;
      }
      const capture: ReplyInterceptor = { complete: (_q, reply) => resolve(reply) };
      inner.interceptor = capture;
      next(inner);
    });
  }
}
