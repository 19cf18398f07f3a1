// One resource's list/watch loop: list in pages, then watch from the list's resourceVersion with
// bookmarks; 410 Gone -> relist (the index applies the difference); any other failure, a dropped
// stream or silence past the deadline -> jittered exponential backoff, then watch from the last
// resourceVersion seen.

import type http from "node:http";
import { DaemonError } from "../errors/index.ts";
import type { ApiConnection } from "./connection.ts";
import { slim } from "./slim.ts";
import type { ClusterEvent, ResourceKind, WatchObserver } from "./types.ts";

export interface ReflectorTiming {
  pageSize: number;
  /** timeoutSeconds asked of the server for each watch. */
  watchTimeoutSec: number;
  /** No bytes for this long on a watch: drop it and reconnect. */
  silenceMs: number;
  /** Per-request deadline for list pages. */
  requestTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/**
 * Longest stretch of watch-event work before the event loop is handed back to the DNS sockets.
 * libuv reads at most 32 datagrams per socket per loop turn, so the turn must stay short for the
 * DNS path to keep up: with 4 ms slices a 10,000 q/s load queued up to ~300 ms during a burst.
 */
const YIELD_AFTER_MS = 1;

/** Hand the event loop back when the current slice of work has run past YIELD_AFTER_MS. */
async function yieldIfLong(sliceStart: number): Promise<number> {
  if (performance.now() - sliceStart <= YIELD_AFTER_MS) return sliceStart;
  await new Promise((resolve) => setImmediate(resolve));
  return performance.now();
}

export const DEFAULT_TIMING: ReflectorTiming = {
  pageSize: 500,
  watchTimeoutSec: 300,
  silenceMs: 120_000,
  requestTimeoutMs: 30_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
};

export interface ReflectorOptions {
  kind: ResourceKind;
  /** e.g. "/api/v1/services". */
  path: string;
  /** Extra query parameters: labelSelector, fieldSelector. */
  params: Record<string, string>;
  connection: ApiConnection;
  sink(event: ClusterEvent): void;
  observer?: WatchObserver;
  timing?: Partial<ReflectorTiming>;
  random?: () => number;
  now?: () => number;
}

export interface ReflectorState {
  objects: number;
  lastSync: number;
  restarts: number;
  synced: boolean;
  resourceVersion: string;
}

class GoneError extends Error {}

export class Reflector {
  private readonly o: ReflectorOptions;
  private readonly timing: ReflectorTiming;
  private keys = new Set<string>();
  private readonly stateValue: ReflectorState = {
    objects: 0,
    lastSync: 0,
    restarts: 0,
    synced: false,
    resourceVersion: "",
  };
  private controller: AbortController | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(options: ReflectorOptions) {
    this.o = options;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
  }

  get state(): Readonly<ReflectorState> {
    return this.stateValue;
  }

  start(): void {
    if (this.loop === null) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
    await this.loop;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let rv = "";
    while (!this.stopped) {
      try {
        if (rv === "") rv = await this.list();
        const started = this.now();
        const result = await this.watch(rv);
        rv = result.rv;
        // A watch that ends at once without news is a failure in disguise: do not spin.
        failures = result.events > 0 || this.now() - started > 1000 ? 0 : failures + 1;
        if (failures > 0) await this.sleep(this.backoff(failures));
      } catch (error) {
        if (this.stopped) break;
        const reason = error instanceof GoneError ? "gone" : (error as Error).message || String(error);
        this.stateValue.restarts++;
        this.o.observer?.restarted(this.o.kind, reason);
        if (error instanceof GoneError) {
          rv = ""; // relist now
          continue;
        }
        failures++;
        await this.sleep(this.backoff(failures));
      }
    }
  }

  private backoff(failures: number): number {
    const ceiling = Math.min(
      this.timing.backoffMaxMs,
      this.timing.backoffInitialMs * 2 ** Math.min(failures - 1, 20),
    );
    return ceiling / 2 + (this.o.random ?? Math.random)() * (ceiling / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private url(extra: Record<string, string>): string {
    const query = new URLSearchParams({ ...this.o.params, ...extra });
    return `${this.o.path}?${query.toString()}`;
  }

  /** GET with a deadline on silence; returns the response once headers arrived. */
  private async request(
    path: string,
    silenceMs: number,
  ): Promise<{ res: http.IncomingMessage; touch(): void; done(): void }> {
    if (this.stopped) throw new Error("stopped");
    const controller = new AbortController();
    this.controller = controller;
    let timer: NodeJS.Timeout | null = null;
    const touch = () => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error(`no data for ${silenceMs} ms`)), silenceMs);
    };
    const done = () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };
    touch();
    try {
      const res = await this.o.connection.get(path, controller.signal);
      return { res, touch, done };
    } catch (error) {
      done();
      throw controller.signal.aborted && controller.signal.reason instanceof Error
        ? controller.signal.reason
        : error;
    }
  }

  private async readJson(res: http.IncomingMessage, touch: () => void): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) {
      touch();
      chunks.push(chunk as Buffer);
    }
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  }

  /**
   * List every page and hand each object on as it is read, so a page's JSON and slim objects die
   * young instead of piling up until the end of a 10,000-object list; then prune what was not listed.
   * A list that fails part-way has applied only current objects; the retry completes it.
   */
  private async list(): Promise<string> {
    const keys = new Set<string>();
    let token = "";
    let rv = "";
    do {
      const params: Record<string, string> = { limit: String(this.timing.pageSize) };
      if (token !== "") params.continue = token;
      const { res, touch, done } = await this.request(this.url(params), this.timing.requestTimeoutMs);
      try {
        if (res.statusCode === 410) {
          res.resume();
          throw new GoneError("continue token expired");
        }
        if (res.statusCode !== 200) throw await statusError(res, "list");
        // biome-ignore lint/suspicious/noExplicitAny: API JSON
        const body = (await this.readJson(res, touch)) as any;
        let sliceStart = performance.now();
        for (const item of Array.isArray(body?.items) ? body.items : []) {
          const object = slim(this.o.kind, item);
          keys.add(object.key);
          this.o.sink({ type: "upsert", kind: this.o.kind, object });
          sliceStart = await yieldIfLong(sliceStart); // a relist must not stall the DNS path either
          if (this.stopped) break;
        }
        token = typeof body?.metadata?.continue === "string" ? body.metadata.continue : "";
        rv = String(body?.metadata?.resourceVersion ?? "");
      } finally {
        done();
      }
    } while (token !== "" && !this.stopped);
    if (this.stopped) return "";
    this.keys = keys;
    this.o.sink({ type: "prune", kind: this.o.kind, keep: keys });
    this.synced(rv);
    if (!this.stateValue.synced) {
      this.stateValue.synced = true;
      this.o.observer?.firstSync(this.o.kind);
    }
    return rv;
  }

  private synced(rv: string): void {
    this.stateValue.resourceVersion = rv;
    this.stateValue.lastSync = this.now();
    this.stateValue.objects = this.keys.size;
    this.o.observer?.objects(this.o.kind, this.keys.size);
    this.o.observer?.synced(this.o.kind, this.stateValue.lastSync);
  }

  private async watch(fromRv: string): Promise<{ rv: string; events: number }> {
    const params = {
      watch: "1",
      resourceVersion: fromRv,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(this.timing.watchTimeoutSec),
    };
    const { res, touch, done } = await this.request(this.url(params), this.timing.silenceMs);
    let rv = fromRv;
    let events = 0;
    try {
      if (res.statusCode === 410) {
        res.resume();
        throw new GoneError("gone");
      }
      if (res.statusCode !== 200) throw await statusError(res, "watch");
      let pending = "";
      let sliceStart = performance.now();
      let workedUntil = sliceStart;
      for await (const chunk of res) {
        touch();
        // Time spent waiting for this chunk was idle, not work: a quiet watch's events (a Service
        // deleted, another created) are applied together rather than one per loop turn.
        const arrived = performance.now();
        if (arrived - workedUntil > YIELD_AFTER_MS) sliceStart = arrived;
        pending += (chunk as Buffer).toString("utf8");
        let start = 0;
        let newline = pending.indexOf("\n", start);
        while (newline >= 0) {
          const line = pending.slice(start, newline).trim();
          start = newline + 1;
          newline = pending.indexOf("\n", start);
          if (line === "") continue;
          rv = this.handle(line, rv);
          events++;
          // A burst of events (a large rollout) arrives faster than it applies: DNS sockets are
          // read between slices, also inside one large chunk.
          sliceStart = await yieldIfLong(sliceStart);
        }
        pending = pending.slice(start);
        workedUntil = performance.now();
      }
      if (this.controller?.signal.aborted && !this.stopped) {
        const reason = this.controller.signal.reason;
        throw reason instanceof Error ? reason : new Error("watch aborted");
      }
      return { rv, events };
    } catch (error) {
      const reason = this.controller?.signal.reason;
      if (this.controller?.signal.aborted && reason instanceof Error && !(error instanceof GoneError))
        throw reason;
      throw error;
    } finally {
      done();
    }
  }

  /** One watch event line; returns the resourceVersion to resume from. */
  private handle(line: string, rv: string): string {
    // biome-ignore lint/suspicious/noExplicitAny: API JSON
    let event: any;
    try {
      event = JSON.parse(line);
    } catch {
      throw new DaemonError("KUBE_API", `${this.o.kind} watch: unparsable event`);
    }
    const type = event?.type;
    const object = event?.object;
    if (type === "ERROR") {
      if (object?.code === 410) throw new GoneError(String(object?.message ?? "gone"));
      throw new DaemonError(
        "KUBE_API",
        `${this.o.kind} watch error: ${object?.code} ${object?.message ?? ""}`,
      );
    }
    const next = String(object?.metadata?.resourceVersion ?? rv);
    if (type === "BOOKMARK") {
      this.synced(next);
      return next;
    }
    const slimObject = slim(this.o.kind, object);
    if (type === "ADDED" || type === "MODIFIED") {
      this.keys.add(slimObject.key);
      this.o.sink({ type: "upsert", kind: this.o.kind, object: slimObject });
    } else if (type === "DELETED") {
      this.keys.delete(slimObject.key);
      this.o.sink({ type: "delete", kind: this.o.kind, object: slimObject });
    } else {
      return rv;
    }
    this.synced(next);
    return next;
  }
}

async function statusError(res: http.IncomingMessage, what: string): Promise<DaemonError> {
  let text = "";
  try {
    for await (const chunk of res) text += (chunk as Buffer).toString("utf8");
  } catch {
    // the status line is enough
  }
  let message = text.slice(0, 200);
  try {
    message = JSON.parse(text)?.message ?? message;
  } catch {
    // not a Status object
  }
  return new DaemonError("KUBE_API", `${what}: HTTP ${res.statusCode}: ${message}`);
}
