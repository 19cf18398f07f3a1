// The packet cache: a success and a denial arena of wire replies, one typed-array index from the
// 53-bit query key to an entry handle (slot * 2 + store). Entries are not JS objects; a hit renders
// into reusable memory.

import type { Now } from "../clock/index.ts";
import type { CacheConfig } from "../config/types.ts";
import {
  type QueryView,
  qnameEndOf,
  renderInto,
  type StoredReply,
  sameQuestion,
  scanReply,
  toStored,
} from "../dns/index.ts";
import { Arena, FLAG_CD, FLAG_DO, FLAG_REFRESHING, FLAG_USED, storedBytes } from "./arena.ts";
import { placeReply, type StoreKind } from "./classify.ts";
import { KeyIndex } from "./key-index.ts";
import { ReplyBuffer } from "./reply-buffer.ts";
import { VolatileNames } from "./volatile.ts";

/** No entry. */
export const MISS = -1;

const KINDS: readonly StoreKind[] = ["success", "denial"];

export interface CacheObserver {
  evicted(kind: StoreKind): void;
}

export interface InsertResult {
  /** The entry's handle, or MISS when the reply was not stored. */
  handle: number;
  /** The reply to answer from when it was not stored. */
  uncached: StoredReply | null;
}

export class CacheCore {
  readonly config: CacheConfig;
  protected readonly now: Now;
  protected readonly index: KeyIndex;
  /** Index 0: success, 1: denial (a handle's low bit). */
  protected readonly arenas: readonly [Arena, Arena];
  protected readonly volatile: VolatileNames | null;
  private readonly replyBuffer = new ReplyBuffer();

  constructor(
    config: CacheConfig,
    now: Now,
    observer?: CacheObserver,
    volatileZones: readonly string[] = [],
  ) {
    this.config = config;
    this.now = now;
    this.index = new KeyIndex(config.success.capacity + config.denial.capacity);
    const arena = (store: 0 | 1, capacity: number) =>
      new Arena(capacity, (slot) => {
        this.forget(slot * 2 + store);
        observer?.evicted(KINDS[store]!);
      });
    this.arenas = [arena(0, config.success.capacity), arena(1, config.denial.capacity)];
    this.volatile = volatileZones.length > 0 ? new VolatileNames(volatileZones, this.arenas) : null;
  }

  /** The entry this query would be served from now (fresh or within serve_stale), or MISS; no side effects. */
  peek(view: QueryView): number {
    const handle = this.index.get(view.key);
    if (handle === MISS) return MISS;
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    if (!this.sameQuery(arena, slot, view)) return MISS; // a hash collision: the insert will replace it
    if (this.now() >= arena.staleUntil[slot]!) return MISS;
    return handle;
  }

  /** Like peek, for a query being answered: counts the hit and drops an entry past its serving life. */
  lookup(view: QueryView): number {
    const handle = this.index.get(view.key);
    if (handle === MISS) return MISS;
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    if (!this.sameQuery(arena, slot, view)) return MISS;
    if (this.now() >= arena.staleUntil[slot]!) {
      this.drop(handle);
      return MISS;
    }
    arena.touch(slot);
    return handle;
  }

  /**
   * Store an upstream reply for `view`'s question (unless `store` is false or the reply is not
   * cacheable). Null when the reply is malformed.
   */
  insert(view: QueryView, reply: Buffer, store = true): InsertResult | null {
    const scan = scanReply(reply);
    if (scan === null) return null;
    if (scan.optOffset >= 0 && scan.optOffset + scan.optLength !== reply.length) return null;
    const placement = store ? placeReply(reply, scan, this.config) : null;
    const wireLength = scan.optOffset >= 0 ? scan.optOffset : reply.length;
    const ttlCount = scan.ttlOffsets.length;
    const bytes = storedBytes(wireLength, ttlCount);
    const arena = placement === null ? null : this.arenas[placement.kind === "success" ? 0 : 1];
    if (placement === null || arena === null || !arena.fits(bytes)) {
      const uncached = toStored(reply, scan);
      return uncached === null ? null : { handle: MISS, uncached };
    }
    const previous = this.index.get(view.key);
    if (previous !== MISS) this.drop(previous);
    const now = this.now();
    const slot = arena.allocate(bytes, now);
    const handle = slot * 2 + (arena === this.arenas[0] ? 0 : 1);
    const buf = arena.bytesOf(slot);
    const start = arena.startOf(slot);
    reply.copy(buf, start, 0, wireLength);
    if (scan.optOffset >= 0) buf.writeUInt16BE(scan.arcount - 1, start + 10);
    const keepTtl = this.config.keepTtl;
    for (let i = 0; i < ttlCount; i++) {
      const at = scan.ttlOffsets[i]!;
      buf.writeUInt16BE(at, start + wireLength + 2 * i);
      // CoreDNS: every record shows the entry's TTL; keepttl keeps each record's own.
      const original = buf.readUInt32BE(start + at);
      buf.writeUInt32BE(keepTtl ? (original > 0x7fffffff ? 0 : original) : placement.ttl, start + at);
    }
    const expiresAt = now + placement.ttl * 1000;
    const stale = this.config.serveStale;
    arena.keys[slot] = view.key;
    arena.storedAt[slot] = now;
    arena.expiresAt[slot] = expiresAt;
    arena.staleUntil[slot] = stale === null ? expiresAt : expiresAt + stale.durationSec * 1000;
    arena.windowStart[slot] = now;
    arena.lifetime[slot] = placement.ttl;
    arena.hits[slot] = 0;
    arena.windowHits[slot] = 0;
    arena.frequency[slot] = 0;
    arena.rcode[slot] = scan.rcode;
    arena.flags[slot] = FLAG_USED | (view.dnssecOk ? FLAG_DO : 0) | (view.checkingDisabled ? FLAG_CD : 0);
    arena.wireLength[slot] = wireLength;
    arena.qnameEnd[slot] = qnameEndOf(reply, scan.questionEnd);
    arena.ttlCount[slot] = ttlCount;
    this.index.set(view.key, handle);
    this.volatile?.track(handle);
    return { handle, uncached: null };
  }

  /**
   * The reply for this query from an entry, in reusable memory: valid until the next render, and
   * to be given up with retireReplyBuffer() if a socket keeps it past the send call. ID, spelling
   * and TTLs patched; TTL 0 when stale; cut to `limit`.
   */
  render(handle: number, view: QueryView, limit: number): Buffer {
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    const elapsed = this.config.keepTtl ? 0 : Math.floor((this.now() - arena.storedAt[slot]!) / 1000);
    const src = arena.bytesOf(slot);
    const start = arena.startOf(slot);
    const wireLength = arena.wireLength[slot]!;
    const length = renderInto(
      this.replyBuffer.memory,
      src,
      start,
      wireLength,
      src,
      start + wireLength,
      arena.ttlCount[slot]!,
      view,
      elapsed,
      true,
      limit,
    );
    return this.replyBuffer.viewOf(length);
  }

  /** The last rendered reply is still referenced (a queued send): render into new memory from now on. */
  retireReplyBuffer(): void {
    this.replyBuffer.retire();
  }

  /** Whether an entry is past its TTL (only servable under serve_stale). */
  isStale(handle: number): boolean {
    return this.now() >= this.arenas[handle & 1].expiresAt[handle >> 1]!;
  }

  kindOf(handle: number): StoreKind {
    return KINDS[handle & 1]!;
  }

  /** The entry's lifetime in seconds. */
  lifetimeOf(handle: number): number {
    return this.arenas[handle & 1].lifetime[handle >> 1]!;
  }

  /** Whether `handle` still holds the entry for `key` (a flight's entry may have been replaced). */
  holds(handle: number, key: number): boolean {
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    return arena.isUsed(slot) && arena.keys[slot] === key;
  }

  isRefreshing(handle: number): boolean {
    return (this.arenas[handle & 1].flags[handle >> 1]! & FLAG_REFRESHING) !== 0;
  }

  setRefreshing(handle: number, refreshing: boolean): void {
    const flags = this.arenas[handle & 1].flags;
    const slot = handle >> 1;
    flags[slot] = refreshing ? flags[slot]! | FLAG_REFRESHING : flags[slot]! & ~FLAG_REFRESHING;
  }

  /** Count a hit in the prefetch window; true when prefetch should refresh this entry now (CoreDNS's rule). */
  shouldPrefetch(handle: number): boolean {
    const prefetch = this.config.prefetch;
    if (prefetch === null || this.isRefreshing(handle)) return false;
    const arena = this.arenas[handle & 1];
    const slot = handle >> 1;
    const now = this.now();
    if (now - arena.windowStart[slot]! > prefetch.durationSec * 1000) {
      arena.windowStart[slot] = now;
      arena.windowHits[slot] = 0;
    }
    const hits = ++arena.windowHits[slot]!;
    if (hits < prefetch.amount) return false;
    const remaining = (arena.expiresAt[slot]! - now) / 1000;
    return remaining <= Math.ceil((prefetch.percentage / 100) * arena.lifetime[slot]!);
  }

  /**
   * Drop every entry for one of `names` or a name under it. Only entries inside the volatile zones
   * (given at construction: the cluster zones) can be dropped this way; this costs the number of
   * such entries, not the cache's size.
   */
  invalidateNames(names: readonly string[]): number {
    if (this.volatile === null) return 0;
    const doomed = this.volatile.under(names);
    for (const handle of doomed) this.drop(handle);
    return doomed.length;
  }

  /** Drop every entry inside the volatile zones (e.g. once the cluster index is first synced). */
  invalidateVolatile(): number {
    if (this.volatile === null) return 0;
    return this.invalidateNames(this.volatile.zoneNames);
  }

  size(kind: StoreKind): number {
    return this.arenas[kind === "success" ? 0 : 1].size;
  }

  clear(): void {
    this.index.clear();
    this.volatile?.clear();
    for (const arena of this.arenas) arena.clear();
  }

  /** Remove an entry: index, volatile list, arena. */
  protected drop(handle: number): void {
    this.forget(handle);
    this.arenas[handle & 1].release(handle >> 1);
  }

  /** Take an entry out of the index and the volatile list (its slot is freed by the caller). */
  private forget(handle: number): void {
    const arena = this.arenas[handle & 1];
    this.index.delete(arena.keys[handle >> 1]!, handle);
    this.volatile?.untrack(handle);
  }

  /** The entry answers exactly this question: name (any case), type, class, DO and CD. */
  private sameQuery(arena: Arena, slot: number, view: QueryView): boolean {
    const flags = arena.flags[slot]!;
    if (((flags & FLAG_DO) !== 0) !== view.dnssecOk || ((flags & FLAG_CD) !== 0) !== view.checkingDisabled)
      return false;
    return sameQuestion(view, arena.bytesOf(slot), arena.qnameEnd[slot]!, arena.startOf(slot));
  }
}
