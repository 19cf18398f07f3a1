// One store of the packet cache (success or denial) off the JS heap: a preallocated byte arena for
// the replies and typed arrays for everything known about each entry. An entry is a slot number.
//
// Bytes: every slot owns SLOT_BYTES of the small arena; a reply that does not fit there borrows one
// of the few LARGE_SLOT_BYTES slots (one per LARGE_SLOT_SHARE entries); a larger reply is not
// cached. A stored reply is its wire bytes without OPT (each TTL field holding the TTL to count down
// from) followed by the 16-bit offsets of its TTL fields.
//
// Eviction: sample EVICTION_SAMPLES slots at random and evict one already past its serving life, else
// the one with the fewest recent hits (a 2-bit counter). Random choice keeps a cycle of names a little
// larger than the capacity hitting (LRU and CLOCK evict exactly the name asked next); the hit counter
// keeps popular names longer than random eviction does; TTL expiry ages the counters.

export const SLOT_BYTES = 256;
export const LARGE_SLOT_BYTES = 4096;
export const LARGE_SLOT_SHARE = 16;
export const EVICTION_SAMPLES = 5;
const MAX_FREQUENCY = 3;

export const FLAG_USED = 1;
export const FLAG_DO = 2;
export const FLAG_CD = 4;
export const FLAG_REFRESHING = 8;

/** Bytes a reply needs in the arena: its wire form and two bytes per TTL offset. */
export function storedBytes(wireLength: number, ttlCount: number): number {
  return wireLength + 2 * ttlCount;
}

export class Arena {
  readonly capacity: number;
  readonly largeCount: number;
  size = 0;
  readonly keys: Float64Array;
  readonly storedAt: Float64Array;
  readonly expiresAt: Float64Array;
  readonly staleUntil: Float64Array;
  readonly windowStart: Float64Array;
  /** Entry lifetime in seconds (prefetch's percentage rule). */
  readonly lifetime: Uint32Array;
  /** Hits since stored, and hits in the current prefetch window. */
  readonly hits: Uint32Array;
  readonly windowHits: Uint32Array;
  readonly wireLength: Uint16Array;
  readonly qnameEnd: Uint16Array;
  readonly ttlCount: Uint16Array;
  readonly rcode: Uint8Array;
  readonly flags: Uint8Array;
  readonly frequency: Uint8Array;
  /** The large slot an entry's bytes live in, or -1 for its own small slot. */
  readonly large: Int32Array;
  readonly small: Buffer;
  readonly largeBytes: Buffer;
  private readonly largeOwner: Int32Array;
  private readonly freeSlots: Int32Array;
  private freeSlotCount: number;
  private readonly freeLarge: Int32Array;
  private freeLargeCount: number;
  private random = 0x2545f491;
  private readonly onEvict: (slot: number) => void;

  /** `onEvict(slot)` runs before an entry is dropped to make room (the index forgets its key). */
  constructor(capacity: number, onEvict: (slot: number) => void) {
    const n = Math.max(1, capacity);
    this.capacity = n;
    this.largeCount = Math.min(n, Math.max(1, Math.ceil(n / LARGE_SLOT_SHARE)));
    this.onEvict = onEvict;
    this.keys = new Float64Array(n);
    this.storedAt = new Float64Array(n);
    this.expiresAt = new Float64Array(n);
    this.staleUntil = new Float64Array(n);
    this.windowStart = new Float64Array(n);
    this.lifetime = new Uint32Array(n);
    this.hits = new Uint32Array(n);
    this.windowHits = new Uint32Array(n);
    this.wireLength = new Uint16Array(n);
    this.qnameEnd = new Uint16Array(n);
    this.ttlCount = new Uint16Array(n);
    this.rcode = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.frequency = new Uint8Array(n);
    this.large = new Int32Array(n).fill(-1);
    // Not zero-filled: the kernel hands out pages as they are first written, so the arena's
    // resident size follows what is stored, not the capacity.
    this.small = Buffer.allocUnsafeSlow(n * SLOT_BYTES);
    this.largeBytes = Buffer.allocUnsafeSlow(this.largeCount * LARGE_SLOT_BYTES);
    this.largeOwner = new Int32Array(this.largeCount).fill(-1);
    this.freeSlots = new Int32Array(n);
    for (let i = 0; i < n; i++) this.freeSlots[i] = n - 1 - i;
    this.freeSlotCount = n;
    this.freeLarge = new Int32Array(this.largeCount);
    for (let i = 0; i < this.largeCount; i++) this.freeLarge[i] = this.largeCount - 1 - i;
    this.freeLargeCount = this.largeCount;
  }

  /** Whether a reply of this many stored bytes can be cached at all. */
  fits(bytes: number): boolean {
    return bytes <= LARGE_SLOT_BYTES;
  }

  /**
   * A slot with room for `bytes` (evicting as needed), marked used; its bytes are at bytesOf/startOf.
   * `bytes` must satisfy fits().
   */
  allocate(bytes: number, now: number): number {
    if (this.freeSlotCount === 0) this.evict(this.pickVictim(now, false));
    const slot = this.freeSlots[--this.freeSlotCount]!;
    this.flags[slot] = FLAG_USED;
    this.size++;
    if (bytes > SLOT_BYTES) {
      if (this.freeLargeCount === 0) this.evict(this.pickVictim(now, true));
      const large = this.freeLarge[--this.freeLargeCount]!;
      this.large[slot] = large;
      this.largeOwner[large] = slot;
    }
    return slot;
  }

  /** Drop an entry (its key must already be out of the index). */
  release(slot: number): void {
    if ((this.flags[slot]! & FLAG_USED) === 0) return;
    this.flags[slot] = 0;
    this.size--;
    const large = this.large[slot]!;
    if (large >= 0) {
      this.largeOwner[large] = -1;
      this.large[slot] = -1;
      this.freeLarge[this.freeLargeCount++] = large;
    }
    this.freeSlots[this.freeSlotCount++] = slot;
  }

  isUsed(slot: number): boolean {
    return (this.flags[slot]! & FLAG_USED) !== 0;
  }

  /** The buffer holding a slot's stored reply. */
  bytesOf(slot: number): Buffer {
    return this.large[slot]! >= 0 ? this.largeBytes : this.small;
  }

  /** Where in bytesOf(slot) the stored reply starts. */
  startOf(slot: number): number {
    const large = this.large[slot]!;
    return large >= 0 ? large * LARGE_SLOT_BYTES : slot * SLOT_BYTES;
  }

  /** Count a served hit: towards prefetch's window, introspection, and eviction's frequency. */
  touch(slot: number): void {
    this.hits[slot]!++;
    if (this.frequency[slot]! < MAX_FREQUENCY) this.frequency[slot]!++;
  }

  clear(): void {
    for (let slot = 0; slot < this.capacity; slot++) this.release(slot);
  }

  private evict(slot: number): void {
    this.onEvict(slot);
    this.release(slot);
  }

  /** Sample slots (or holders of large slots) and choose the one to evict. */
  private pickVictim(now: number, largeHolders: boolean): number {
    let victim = -1;
    let victimScore = MAX_FREQUENCY + 1;
    // Keeps sampling past EVICTION_SAMPLES only until one candidate is found (one always exists: the
    // caller evicts only when every slot, or every large slot, is taken).
    for (let i = 0; i < EVICTION_SAMPLES || victim < 0; i++) {
      const slot = largeHolders
        ? this.largeOwner[this.nextRandom() % this.largeCount]!
        : this.nextRandom() % this.capacity;
      if (slot < 0 || (this.flags[slot]! & FLAG_USED) === 0) continue;
      if (now >= this.staleUntil[slot]!) return slot; // past its serving life: free room
      const score = this.frequency[slot]!;
      if (score < victimScore) {
        victim = slot;
        victimScore = score;
      }
    }
    return victim;
  }

  /** xorshift32: a fast, allocation-free and reproducible source for sampling. */
  private nextRandom(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x;
    return x >>> 0;
  }
}
