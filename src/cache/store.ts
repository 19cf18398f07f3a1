// The packet cache: two LRU stores (success, denial) of wire replies keyed by the query hash.

import { LRUCache } from "lru-cache";
import type { Now } from "../clock/index.ts";
import type { CacheConfig } from "../config/types.ts";
import {
  type QueryView,
  type ReplyScan,
  renderStored,
  type StoredReply,
  sameQuestion,
  scanReply,
  toStored,
} from "../dns/index.ts";
import { placeReply, type StoreKind } from "./classify.ts";
import { type CacheEntryInfo, canonicalName, describe, isUnder, ownerOf, probeQuery } from "./introspect.ts";
import { NameIndex } from "./name-index.ts";

export interface CacheEntry extends StoredReply {
  kind: StoreKind;
  rcode: number;
  dnssecOk: boolean;
  checkingDisabled: boolean;
  storedAt: number;
  /** When the TTL runs out (ms). */
  expiresAt: number;
  /** Until when it may still be served stale (ms); equals expiresAt without serve_stale. */
  staleUntil: number;
  /** The entry's lifetime in seconds, for prefetch's percentage rule. */
  lifetime: number;
  /** Hits in the current prefetch window. */
  hits: number;
  /** Times this entry answered a client (introspection only). */
  served: number;
  windowStart: number;
  refreshing: boolean;
}

export interface CacheObserver {
  evicted(kind: StoreKind): void;
}

export class PacketCache {
  readonly config: CacheConfig;
  private readonly now: Now;
  private readonly stores: Record<StoreKind, LRUCache<number, CacheEntry>>;
  private readonly volatile: NameIndex | null;

  constructor(
    config: CacheConfig,
    now: Now,
    observer?: CacheObserver,
    volatileZones: readonly string[] = [],
  ) {
    this.config = config;
    this.volatile = volatileZones.length > 0 ? new NameIndex(volatileZones) : null;
    this.now = now;
    const make = (kind: StoreKind, max: number) =>
      new LRUCache<number, CacheEntry>({
        max,
        dispose: (_value, _key, reason) => {
          if (reason === "evict") observer?.evicted(kind);
        },
      });
    this.stores = {
      success: make("success", config.success.capacity),
      denial: make("denial", config.denial.capacity),
    };
  }

  /** The entry for this query if one is stored and still servable (fresh or within serve_stale). */
  lookup(view: QueryView): CacheEntry | undefined {
    const key = view.key;
    const entry = this.stores.success.get(key) ?? this.stores.denial.get(key);
    if (entry === undefined) return undefined;
    if (
      entry.dnssecOk !== view.dnssecOk ||
      entry.checkingDisabled !== view.checkingDisabled ||
      !sameQuestion(view, entry.wire, entry.questionEnd)
    ) {
      return undefined; // a hash collision: treat as a miss, the insert will replace it
    }
    if (this.now() >= entry.staleUntil) {
      this.stores[entry.kind].delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Store an upstream reply for `view`'s question. Returns the entry (also when the reply is not
   * cacheable, as an unstored entry) so waiters can be answered from it; null if it is malformed.
   */
  insert(view: QueryView, reply: Buffer, store = true): { entry: CacheEntry; cached: boolean } | null {
    const scan = scanReply(reply);
    if (scan === null) return null;
    const stored = toStored(reply, scan);
    if (stored === null) return null;
    const placement = store ? placeReply(reply, scan, this.config) : null;
    const now = this.now();
    const entry = this.entryFrom(view, stored, scan, placement?.kind ?? "success", placement?.ttl ?? 0, now);
    if (placement === null) return { entry, cached: false };
    const other = placement.kind === "success" ? "denial" : "success";
    this.stores[other].delete(view.key);
    this.stores[placement.kind].set(view.key, entry);
    if (this.volatile !== null) this.volatile.track(view, entry);
    return { entry, cached: true };
  }

  /** The reply for this query from an entry: ID, spelling and TTLs patched; TTL 0 when stale. */
  render(entry: CacheEntry, view: QueryView, limit: number): Buffer {
    const elapsed = this.config.keepTtl ? 0 : Math.floor((this.now() - entry.storedAt) / 1000);
    return renderStored(entry, view, elapsed, true, limit);
  }

  /** Whether an entry is past its TTL (only servable under serve_stale). */
  isStale(entry: CacheEntry): boolean {
    return this.now() >= entry.expiresAt;
  }

  /** Count a hit; true when prefetch should refresh this entry now (CoreDNS's rule). */
  shouldPrefetch(entry: CacheEntry): boolean {
    const prefetch = this.config.prefetch;
    if (prefetch === null || entry.refreshing) return false;
    const now = this.now();
    if (now - entry.windowStart > prefetch.durationSec * 1000) {
      entry.windowStart = now;
      entry.hits = 0;
    }
    entry.hits++;
    if (entry.hits < prefetch.amount) return false;
    const remaining = (entry.expiresAt - now) / 1000;
    return remaining <= Math.ceil((prefetch.percentage / 100) * entry.lifetime);
  }

  /**
   * Drop every entry for one of `names` or a name under it. Only entries inside the volatile zones
   * (given at construction: the cluster zones) can be dropped this way; they are indexed by each
   * of their ancestor names, so this costs what it drops, not the cache's size.
   */
  invalidateNames(names: readonly string[]): number {
    if (this.volatile === null) return 0;
    let dropped = 0;
    for (const key of this.volatile.take(names)) {
      if (this.stores.success.delete(key)) dropped++;
      if (this.stores.denial.delete(key)) dropped++;
    }
    return dropped;
  }

  /** Drop every entry inside the volatile zones (e.g. once the cluster index is first synced). */
  invalidateVolatile(): number {
    if (this.volatile === null) return 0;
    return this.invalidateNames(this.volatile.zoneNames);
  }

  /** Count an entry's answer to a client (shown by entriesUnder/lookupInfo). */
  served(entry: CacheEntry): void {
    entry.served++;
  }

  /** Every live entry for `name` (presentation form, any case) and every name below it. */
  entriesUnder(name: string): CacheEntryInfo[] {
    const now = this.now();
    const under = canonicalName(name);
    const out: CacheEntryInfo[] = [];
    for (const store of [this.stores.success, this.stores.denial]) {
      for (const entry of store.values()) {
        if (now < entry.staleUntil && isUnder(ownerOf(entry), under))
          out.push(describe(entry, now, this.config.keepTtl));
      }
    }
    return out.sort((a, b) => (a.name === b.name ? a.type - b.type : a.name < b.name ? -1 : 1));
  }

  /** Drop every entry for `name` and every name below it; how many were dropped. */
  flushUnder(name: string): number {
    const under = canonicalName(name);
    let dropped = 0;
    for (const store of [this.stores.success, this.stores.denial]) {
      const keys: number[] = [];
      for (const [key, entry] of store.entries()) if (isUnder(ownerOf(entry), under)) keys.push(key);
      for (const key of keys) if (store.delete(key)) dropped++;
    }
    return dropped;
  }

  /**
   * What a plain query (RD, no CD) for NAME/TYPE would get from the cache now, or null: no hit
   * counted, no recency touched, nothing dropped.
   */
  lookupInfo(name: string, qtype: number, dnssecOk = false): CacheEntryInfo | null {
    const view = probeQuery(name, qtype, dnssecOk);
    if (view === null) return null;
    const entry = this.stores.success.peek(view.key) ?? this.stores.denial.peek(view.key);
    if (entry === undefined || entry.dnssecOk !== dnssecOk || entry.checkingDisabled) return null;
    if (!sameQuestion(view, entry.wire, entry.questionEnd)) return null;
    const now = this.now();
    return now < entry.staleUntil ? describe(entry, now, this.config.keepTtl) : null;
  }

  size(kind: StoreKind): number {
    return this.stores[kind].size;
  }

  clear(): void {
    this.stores.success.clear();
    this.stores.denial.clear();
    this.volatile?.clear();
  }

  private entryFrom(
    view: QueryView,
    stored: StoredReply,
    scan: ReplyScan,
    kind: StoreKind,
    ttl: number,
    now: number,
  ): CacheEntry {
    if (ttl > 0 && !this.config.keepTtl) stored.ttls.fill(ttl); // CoreDNS: every record shows the entry's TTL
    const stale = this.config.serveStale;
    const expiresAt = now + ttl * 1000;
    return {
      ...stored,
      kind,
      rcode: scan.rcode,
      dnssecOk: view.dnssecOk,
      checkingDisabled: view.checkingDisabled,
      storedAt: now,
      expiresAt,
      staleUntil: stale === null ? expiresAt : expiresAt + stale.durationSec * 1000,
      lifetime: ttl,
      hits: 0,
      served: 0,
      windowStart: now,
      refreshing: false,
    };
  }
}
