// The cache in the chain: hits answered from wire bytes; misses coalesced into one flight; prefetch
// and serve_stale refresh in the background.

import { type CacheEntry, PacketCache } from "../cache/index.ts";
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
} from "../dns/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { Handler, Next } from "./chain.ts";
import { Query, type ReplyInterceptor, type Transport } from "./query.ts";

const nullTransport: Transport = { proto: "tcp", server: "", send() {} };

/** Identical misses in flight: one downstream query, many waiters. */
class Flight implements ReplyInterceptor {
  readonly key: number;
  readonly waiters: Query[] = [];
  readonly stale: CacheEntry | undefined;
  private readonly plugin: CachePlugin;

  constructor(plugin: CachePlugin, key: number, stale: CacheEntry | undefined) {
    this.plugin = plugin;
    this.key = key;
    this.stale = stale;
  }

  complete(query: Query, reply: Buffer): void {
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
    const entry = this.cache.lookup(query);
    if (entry !== undefined) {
      const stale = this.cache.isStale(entry);
      if (!stale || this.cache.config.serveStale?.mode === "immediate") {
        (entry.kind === "success" ? this.counters.hitSuccess : this.counters.hitDenial).inc();
        this.cache.served(entry);
        query.plugin = "cache";
        query.sendFinal(this.cache.render(entry, query, query.limit));
        if (stale) {
          this.counters.stale.inc();
          this.refresh(entry, query, next);
        } else if (this.cache.shouldPrefetch(entry)) {
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
    const flight = new Flight(this, query.key, entry);
    flight.waiters.push(query);
    this.flights.set(query.key, flight);
    query.interceptor = flight;
    next(query);
  }

  close(): void {
    this.metrics.collectors.delete(this.collector);
  }

  /** A flight's downstream reply arrived: cache it and answer every waiter from it. */
  finish(flight: Flight, query: Query, reply: Buffer): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    const rcode = reply.length >= 4 ? reply[3]! & 0x0f : RCODE.SERVFAIL;
    const stale = flight.stale;
    if (stale !== undefined) stale.refreshing = false;
    if (stale !== undefined && rcode === RCODE.SERVFAIL && this.cache.lookup(query) === stale) {
      this.counters.stale.inc(flight.waiters.length);
      for (const waiter of flight.waiters) {
        this.cache.served(stale);
        waiter.plugin = "cache";
        waiter.sendFinal(this.cache.render(stale, waiter, waiter.limit));
      }
      return;
    }
    if (query.clientReady && query.noStore && flight.waiters.length === 1 && reply.length <= query.limit) {
      query.sendFinal(reply); // an index answer for its only asker: nothing to store or re-render
      return;
    }
    const result = this.cache.insert(query, reply, !query.noStore);
    const authoritative = result?.cached === true || (reply.readUInt16BE(2) & FLAG_AA) !== 0;
    for (const waiter of flight.waiters) {
      waiter.plugin = query.plugin;
      if (result === null) {
        waiter.sendFinal(errorReply(waiter, RCODE.SERVFAIL));
        continue;
      }
      const rendered = this.cache.render(result.entry, waiter, waiter.limit);
      if (!authoritative) rendered[2]! &= ~(FLAG_AA >> 8);
      waiter.sendFinal(rendered);
    }
  }

  /** Whether this cache takes the query's name (the `cache` zones, else the block's). */
  covers(query: QueryView): boolean {
    for (const zone of this.zoneWires) if (nameInZone(query.buf, 12, query.qnameEnd, zone)) return true;
    return false;
  }

  /** Refresh an entry behind the client's back (prefetch, or stale served immediately). */
  private refresh(entry: CacheEntry, query: Query, next: Next): void {
    if (entry.refreshing || this.flights.has(query.key)) return;
    entry.refreshing = true;
    const background = new Query(nullTransport, query.remoteAddress, query.remotePort, query.family);
    if (parseQuery(Buffer.from(query.buf), background) !== 0) return;
    background.startedAt = this.now();
    const flight = new Flight(this, background.key, entry);
    flight.waiters.push(background);
    this.flights.set(background.key, flight);
    background.interceptor = flight;
    next(background);
  }
}
