// The primary's debug backend under -workers N: explain runs on one worker (they serve the same
// configuration and watch the same cluster); cache show and flush reach every worker's cache.

import type { Worker } from "node:cluster";
import { type ErrorCode, ExplainError } from "../errors/index.ts";
import type { CacheListing, DebugBackend, ExplainReport, ExplainRequest } from "../explain/index.ts";
import type { DebugCall, ToPrimary, ToWorker } from "./protocol.ts";

const CALL_TIMEOUT_MS = 15_000;

type DebugReply = Extract<ToPrimary, { type: "nl:debug-res" }>;

export class WorkersDebug implements DebugBackend {
  private readonly workers: () => Worker[];
  private readonly send: (worker: Worker, message: ToWorker) => void;
  private readonly pending = new Map<number, (reply: DebugReply) => void>();
  private nextId = 0;

  /** `workers`: the connected workers, in a stable order. */
  constructor(workers: () => Worker[], send: (worker: Worker, message: ToWorker) => void) {
    this.workers = workers;
    this.send = send;
  }

  /** A worker's reply arrived (the supervisor passes every nl:debug-res here). */
  replied(reply: DebugReply): void {
    this.pending.get(reply.id)?.(reply);
  }

  async explain(request: ExplainRequest): Promise<ExplainReport> {
    const first = this.workers()[0];
    if (first === undefined) throw new ExplainError("EXPLAIN_UNAVAILABLE", "no worker is serving");
    return (await this.call(first, { op: "explain", request })) as ExplainReport;
  }

  async cacheShow(name: string): Promise<CacheListing> {
    const listings = await this.everyWorker({ op: "cache-show", name });
    return {
      caches: listings.flatMap((listing, worker) =>
        (listing as CacheListing).caches.map((cache) => ({ ...cache, worker: worker + 1 })),
      ),
    };
  }

  async cacheFlush(name: string): Promise<number> {
    const counts = await this.everyWorker({ op: "cache-flush", name });
    return counts.reduce<number>((sum, n) => sum + (n as number), 0);
  }

  private everyWorker(call: DebugCall): Promise<unknown[]> {
    const workers = this.workers();
    if (workers.length === 0) throw new ExplainError("EXPLAIN_UNAVAILABLE", "no worker is serving");
    return Promise.all(workers.map((worker) => this.call(worker, call)));
  }

  private call(worker: Worker, call: DebugCall): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ExplainError("EXPLAIN_UNAVAILABLE", `worker ${worker.id} did not answer within 15 s`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (reply.error === undefined) resolve(reply.result);
        else reject(new ExplainError(reply.error.code as ErrorCode, reply.error.message));
      });
      this.send(worker, { type: "nl:debug-req", id, call });
    });
  }
}
