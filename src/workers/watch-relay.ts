// The primary's side of the cluster watch with -workers N: one API list/watch per distinct watch
// spec for the whole node, whatever N is. The primary keeps the slim objects (no index, no answers)
// and relays every change to the subscribed workers, which keep their own index so answers stay
// in-process. A worker that subscribes late (a replacement) gets a snapshot first, then changes.

import type { Worker } from "node:cluster";
import {
  type ClusterEvent,
  type ResourceKind,
  startWatch,
  type WatchHandle,
  type WatchObserver,
} from "../kubeapi/index.ts";
import type { ToWorker, WatchSpec, WireEvent } from "./protocol.ts";

/** Events per IPC message: a 10,000-object snapshot goes as pages, like the list it came from. */
const EVENTS_PER_MESSAGE = 500;
/** A watch nobody subscribes to any more is kept this long (a replacement worker comes back at once). */
const IDLE_STOP_MS = 30_000;

interface Subscriber {
  worker: Worker;
  id: number;
}

export interface WatchRelayOptions {
  nodeName: string | undefined;
  observer: WatchObserver;
}

class RelayedWatch {
  readonly subscribers: Subscriber[] = [];
  idleTimer: NodeJS.Timeout | null = null;
  /** Each watched object as its JSON text, by kind and key (for snapshots). */
  private readonly objects = new Map<ResourceKind, Map<string, string>>();
  private readonly synced = new Set<ResourceKind>();
  private pending: WireEvent[] = [];
  private flushQueued = false;
  readonly handle: WatchHandle;

  constructor(spec: WatchSpec, options: WatchRelayOptions) {
    for (const kind of spec.kinds) this.objects.set(kind, new Map());
    this.handle = startWatch({
      config: spec.target,
      kinds: spec.kinds,
      nodeName: options.nodeName,
      sink: (event) => this.onEvent(event),
      observer: options.observer,
    });
  }

  /** Flush what is queued to those already subscribed, then bring the new one up to date. */
  subscribe(subscriber: Subscriber): void {
    this.flush();
    this.subscribers.push(subscriber);
    const snapshot: WireEvent[] = [];
    for (const [kind, objects] of this.objects) {
      for (const json of objects.values()) snapshot.push({ type: "upsert", kind, json });
      if (this.synced.has(kind)) snapshot.push({ type: "prune", kind, keep: [...objects.keys()] });
    }
    sendPaged(subscriber, snapshot);
  }

  unsubscribe(match: (s: Subscriber) => boolean): void {
    for (let i = this.subscribers.length - 1; i >= 0; i--)
      if (match(this.subscribers[i]!)) this.subscribers.splice(i, 1);
  }

  private onEvent(event: ClusterEvent): void {
    const objects = this.objects.get(event.kind);
    if (objects === undefined) return;
    switch (event.type) {
      case "upsert": {
        const json = JSON.stringify(event.object);
        objects.set(event.object.key, json);
        this.queue({ type: "upsert", kind: event.kind, json });
        break;
      }
      case "delete":
        objects.delete(event.object.key);
        this.queue({ type: "delete", kind: event.kind, json: JSON.stringify(event.object) });
        break;
      case "prune":
      case "replace": {
        const keep = event.type === "prune" ? event.keep : new Set(event.objects.map((o) => o.key));
        if (event.type === "replace") {
          for (const o of event.objects) {
            const json = JSON.stringify(o);
            objects.set(o.key, json);
            this.queue({ type: "upsert", kind: event.kind, json });
          }
        }
        for (const key of objects.keys()) if (!keep.has(key)) objects.delete(key);
        this.synced.add(event.kind);
        this.queue({ type: "prune", kind: event.kind, keep: [...keep] });
        break;
      }
    }
  }

  /** Changes go out together once the current slice of watch work yields. */
  private queue(event: WireEvent): void {
    this.pending.push(event);
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    for (const subscriber of this.subscribers) sendPaged(subscriber, events);
  }
}

function sendPaged(subscriber: Subscriber, events: WireEvent[]): void {
  const { worker, id } = subscriber;
  if (events.length === 0 || !worker.isConnected()) return;
  for (let i = 0; i < events.length; i += EVENTS_PER_MESSAGE) {
    const message: ToWorker = {
      type: "nl:watch-events",
      id,
      events: events.length <= EVENTS_PER_MESSAGE ? events : events.slice(i, i + EVENTS_PER_MESSAGE),
    };
    worker.send(message);
  }
}

/** Every watch the workers asked for, keyed by what is watched. */
export class WatchRelay {
  private readonly options: WatchRelayOptions;
  private readonly watches = new Map<string, RelayedWatch>();

  constructor(options: WatchRelayOptions) {
    this.options = options;
  }

  open(worker: Worker, id: number, spec: WatchSpec): void {
    const { endpoint, kubeconfig, labels } = spec.target;
    const key = JSON.stringify([endpoint, kubeconfig, labels, [...spec.kinds].sort()]);
    let watch = this.watches.get(key);
    if (watch === undefined) {
      watch = new RelayedWatch(spec, this.options);
      this.watches.set(key, watch);
    }
    if (watch.idleTimer !== null) clearTimeout(watch.idleTimer);
    watch.idleTimer = null;
    watch.subscribe({ worker, id });
  }

  close(worker: Worker, id: number): void {
    this.drop((s) => s.worker === worker && s.id === id);
  }

  /** A worker exited: its subscriptions end (its replacement subscribes anew). */
  forget(worker: Worker): void {
    this.drop((s) => s.worker === worker);
  }

  async stop(): Promise<void> {
    const watches = [...this.watches.values()];
    this.watches.clear();
    for (const watch of watches) if (watch.idleTimer !== null) clearTimeout(watch.idleTimer);
    await Promise.all(watches.map((w) => w.handle.stop()));
  }

  private drop(match: (s: Subscriber) => boolean): void {
    for (const [key, watch] of this.watches) {
      watch.unsubscribe(match);
      if (watch.subscribers.length > 0 || watch.idleTimer !== null) continue;
      watch.idleTimer = setTimeout(() => {
        if (this.watches.get(key) !== watch || watch.subscribers.length > 0) return;
        this.watches.delete(key);
        void watch.handle.stop();
      }, IDLE_STOP_MS);
      watch.idleTimer.unref();
    }
  }
}
