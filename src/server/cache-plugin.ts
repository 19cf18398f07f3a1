// The cache in the chain: hits answered from wire bytes; misses coalesced into one flight; prefetch
// and serve_stale refresh in the background.

import { MISS, PacketCache } from "../cache/index.ts";
import type { Now } from "../clock/index.ts";
import type { CacheConfig } from "../config/types.ts";
import {
  errorReply,
  FLAG_AA,
  nameInZone,
  nameToWire,
  parseQuery,
  type QueryView,
  RCODE,
  renderStored,
} from "../dns/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { Handler, Next } from "./chain.ts";
import { Query, type ReplyInterceptor, type Transport } from "./query.ts";

const nullTransport: Transport = { proto: "tcp", server: "", send() {}, sendsQueued: () => 0 };

/** Identical misses in flight: one downstream query, many waiters. */
class Flight implements ReplyInterceptor {
  key: number;
  readonly waiters: Query[];
  /** The entry being refreshed or found expired (its handle), or MISS. */
  stale: number;
  /** Its reply arrived; a second delivery is ignored. */
  done = false;
  private readonly plugin: CachePlugin;

  /** `first` is the query that starts the flight (an array of exactly one: most flights keep one). */
  constructor(plugin: CachePlugin, key: number, stale: number, first: Query) {
    this.plugin = plugin;
    this.key = key;
    this.stale = stale;
    this.waiters = [first];
  }

  /** Start again for `first`: only a flight that finished with its one waiter is reused. */
  reset(key: number, stale: number, first: Query): void {
    this.key = key;
    this.stale = stale;
    this.waiters[0] = first;
    this.done = false;
  }

  complete(query: Query, reply: Buffer): void {
    if (this.done) return;
    this.done = true;
    // The query lets go of this flight, so it may be reused once finished.
    query.interceptor = null;
    this.plugin.finish(this, query, reply);
  }
}

export interface CacheLabels {
  server: string;
  zones: string;
}

export class CachePlugin implements Handler {
  readonly name = "cache" as const;
  readonly cache: PacketCache;
  private readonly flights = new Map<number, Flight>();
  private spareFlight: Flight | null = null;
  private readonly zoneWires: Buffer[];
  private readonly now: Now;
  private readonly counters;
  private readonly collector: () => void;
  private readonly metrics: Metrics;

  constructor(
    config: CacheConfig,
    blockZones: string[],
    now: Now,
    metrics: Metrics,
    labels: CacheLabels,
    volatileZones: readonly string[] = [],
  ) {
    this.now = now;
    const zones = config.zones.length > 0 ? config.zones : blockZones;
    this.zoneWires = zones.map((z) => nameToWire(z));
    const l = [labels.server, labels.zones, ""] as const;
    this.counters = {
      requests: metrics.cacheRequests.labels(...l),
      misses: metrics.cacheMisses.labels(...l),
      hitSuccess: metrics.cacheHits.labels(labels.server, "success", labels.zones, ""),
      hitDenial: metrics.cacheHits.labels(labels.server, "denial", labels.zones, ""),
      prefetch: metrics.cachePrefetch.labels(...l),
      stale: metrics.cacheServedStale.labels(...l),
      coalesced: metrics.coalesced.labels(...l),
    };
    this.cache = new PacketCache(
      config,
      now,
      { evicted: (kind) => metrics.cacheEvictions.labels(labels.server, kind, labels.zones, "").inc() },
      volatileZones,
    );
    const entries = metrics.cacheEntries;
    const cache = this.cache;
    entries.labels(labels.server, "success", labels.zones, "").set(0);
    // Sizes are read at scrape time, not counted on the hot path.
    this.collector = () => {
      entries.labels(labels.server, "success", labels.zones, "").set(cache.size("success"));
      entries.labels(labels.server, "denial", labels.zones, "").set(cache.size("denial"));
    };
    this.metrics = metrics;
    metrics.collectors.add(this.collector);
  }

  handle(query: Query, next: Next): void {
    if (!this.covers(query)) {
      next(query);
      return;
    }
    this.counters.requests.inc();
    const cache = this.cache;
    const entry = cache.lookup(query);
    if (entry !== MISS) {
      const stale = cache.isStale(entry);
      if (!stale || cache.config.serveStale?.mode === "immediate") {
        (cache.kindOf(entry) === "success" ? this.counters.hitSuccess : this.counters.hitDenial).inc();
        query.plugin = "cache";
        this.answer(query, entry);
        if (stale) {
          this.counters.stale.inc();
          this.refresh(entry, query, next);
        } else if (cache.shouldPrefetch(entry)) {
          this.counters.prefetch.inc();
          this.refresh(entry, query, next);
        }
        return;
      }
    }
    this.counters.misses.inc();
    const existing = this.flights.get(query.key);
    if (existing !== undefined) {
      this.counters.coalesced.inc();
      existing.waiters.push(query);
      return;
    }
    // A miss the rest of the chain answers before next() returns (the cluster index, hosts,
    // template) cannot be joined by another query: it is registered for coalescing only when it
    // is still waiting, and its flight is reused, so such answers allocate no flight or map entry.
    let flight = this.spareFlight;
    if (flight === null) flight = new Flight(this, query.key, entry, query);
    else {
      this.spareFlight = null;
      flight.reset(query.key, entry, query);
    }
    query.interceptor = flight;
    next(query);
    if (!flight.done) this.flights.set(flight.key, flight);
    else if (flight.waiters.length === 1) this.spareFlight = flight;
  }

  close(): void {
    this.metrics.collectors.delete(this.collector);
  }

  /** A flight's downstream reply arrived: cache it and answer every waiter from it. */
  finish(flight: Flight, query: Query, reply: Buffer): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    const rcode = reply.length >= 4 ? reply[3]! & 0x0f : RCODE.SERVFAIL;
    const cache = this.cache;
    const stale = flight.stale !== MISS && cache.holds(flight.stale, flight.key) ? flight.stale : MISS;
    if (stale !== MISS) cache.setRefreshing(stale, false);
    if (stale !== MISS && rcode === RCODE.SERVFAIL && cache.peek(query) === stale) {
      this.counters.stale.inc(flight.waiters.length);
      for (const waiter of flight.waiters) {
        waiter.plugin = "cache";
        this.answer(waiter, stale);
      }
      return;
    }
    if (query.clientReady && query.noStore && flight.waiters.length === 1 && reply.length <= query.limit) {
      query.sendFinal(reply); // an index answer for its only asker: nothing to store or re-render
      return;
    }
    const result = cache.insert(query, reply, !query.noStore);
    const authoritative =
      (result !== null && result.handle !== MISS) || (reply.readUInt16BE(2) & FLAG_AA) !== 0;
    for (const waiter of flight.waiters) {
      waiter.plugin = query.plugin;
      if (result === null) waiter.sendFinal(errorReply(waiter, RCODE.SERVFAIL));
      else if (result.uncached !== null)
        waiter.sendFinal(renderStored(result.uncached, waiter, 0, authoritative, waiter.limit));
      else this.answer(waiter, result.handle);
    }
  }

  /**
   * Answer from an entry through the cache's reusable reply memory. A socket that already queues
   * its sends gets a copy of its own (the reply would wait there); if a send queues after all, the
   * reusable memory is given up and new memory used from then on.
   */
  private answer(query: Query, entry: number): void {
    const transport = query.transport;
    const queuedBefore = transport.sendsQueued?.() ?? 1;
    const reply = this.cache.render(entry, query, query.limit);
    if (queuedBefore !== 0) {
      query.sendFinal(Buffer.from(reply));
      return;
    }
    query.sendFinal(reply);
    if (transport.sendsQueued?.() !== 0) this.cache.retireReplyBuffer();
  }

  /** Whether this cache takes the query's name (the `cache` zones, else the block's). */
  covers(query: QueryView): boolean {
    for (const zone of this.zoneWires) if (nameInZone(query.buf, 12, query.qnameEnd, zone)) return true;
    return false;
  }

  /** Refresh an entry behind the client's back (prefetch, or stale served immediately). */
  private refresh(entry: number, query: Query, next: Next): void {
    if (this.cache.isRefreshing(entry) || this.flights.has(query.key)) return;
    this.cache.setRefreshing(entry, true);
    const background = new Query(nullTransport, query.remoteAddress, query.remotePort, query.family);
    if (parseQuery(Buffer.from(query.buf), background) !== 0) return;
    background.startedAt = this.now();
    const flight = new Flight(this, background.key, entry, background);
    this.flights.set(background.key, flight);
    background.interceptor = flight;
    next(background);
  }
}
