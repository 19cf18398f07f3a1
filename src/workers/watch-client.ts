// A worker's side of the node's one cluster watch: each index subscribes to the primary's watch
// (over the IPC channel) instead of opening its own; events are applied in the order sent, in
// short slices so a snapshot or a burst never stalls the DNS sockets.

import {
  type ClusterEvent,
  internSlim,
  type SlimObject,
  type WatchOptions,
  type WatchStarter,
} from "../kubeapi/index.ts";
import { isMessage, type ToPrimary, type ToWorker, type WireEvent } from "./protocol.ts";

/** Longest stretch of applying before the event loop goes back to the sockets (as the reflector). */
const SLICE_MS = 1;

class Subscription {
  private readonly queue: WireEvent[][] = [];
  private draining = false;
  private stopped = false;
  private readonly sink: WatchOptions["sink"];

  constructor(sink: WatchOptions["sink"]) {
    this.sink = sink;
  }

  push(events: WireEvent[]): void {
    if (this.stopped) return;
    this.queue.push(events);
    if (!this.draining) void this.drain();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    let sliceStart = performance.now();
    while (this.queue.length > 0 && !this.stopped) {
      const events = this.queue.shift()!;
      for (const event of events) {
        if (this.stopped) break;
        this.sink(fromWire(event));
        if (performance.now() - sliceStart > SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
    this.draining = false;
  }
}

function fromWire(event: WireEvent): ClusterEvent {
  if (event.type === "prune") return { type: "prune", kind: event.kind, keep: new Set(event.keep) };
  return { type: event.type, kind: event.kind, object: internSlim(JSON.parse(event.json) as SlimObject) };
}

/** The WatchStarter of a worker: subscriptions to the primary's watches. */
export function primaryWatches(): WatchStarter {
  const subscriptions = new Map<number, Subscription>();
  let nextId = 0;
  const send = (message: ToPrimary) => {
    if (process.connected) process.send?.(message);
  };
  process.on("message", (message: unknown) => {
    if (!isMessage<ToWorker>(message) || message.type !== "nl:watch-events") return;
    subscriptions.get(message.id)?.push(message.events);
  });
  return (options) => {
    const id = ++nextId;
    const subscription = new Subscription(options.sink);
    subscriptions.set(id, subscription);
    const { endpoint, kubeconfig, labels } = options.config;
    send({
      type: "nl:watch-open",
      id,
      spec: { target: { endpoint, kubeconfig, labels }, kinds: [...options.kinds] },
    });
    return {
      async stop() {
        subscription.stop();
        subscriptions.delete(id);
        send({ type: "nl:watch-close", id });
      },
    };
  };
}
