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
  wireToName,
} from "../dns/index.ts";
import { placeReply, type StoreKind } from "./classify.ts";

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

  constructor(config: CacheConfig, now: Now, observer?: CacheObserver) {
    this.config = config;
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
  insert(view: QueryView, reply: Buffer): { entry: CacheEntry; cached: boolean } | null {
    const scan = scanReply(reply);
    if (scan === null) return null;
    const stored = toStored(reply, scan);
    if (stored === null) return null;
    const placement = placeReply(reply, scan, this.config);
    const now = this.now();
    const entry = this.entryFrom(view, stored, scan, placement?.kind ?? "success", placement?.ttl ?? 0, now);
    if (placement === null) return { entry, cached: false };
    const other = placement.kind === "success" ? "denial" : "success";
    this.stores[other].delete(view.key);
    this.stores[placement.kind].set(view.key, entry);
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

  /** Drop every entry whose owner name is one of `names` or lies under one of them. */
  invalidateNames(names: readonly string[]): number {
    if (names.length === 0) return 0;
    let dropped = 0;
    for (const store of Object.values(this.stores)) {
      for (const [key, entry] of store.entries()) {
        const name = wireToName(entry.wire, 12, entry.qnameEnd);
        if (names.some((n) => name === n || name.endsWith(`.${n}`) || n === ".")) {
          store.delete(key);
          dropped++;
        }
      }
    }
    return dropped;
  }

  size(kind: StoreKind): number {
    return this.stores[kind].size;
  }

  clear(): void {
    this.stores.success.clear();
    this.stores.denial.clear();
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
      windowStart: now,
      refreshing: false,
    };
  }
}
