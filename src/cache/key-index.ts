// The cache's index: 53-bit query keys -> entry handles, open addressing with linear probing in two
// typed arrays. Deletion shifts the following run back (no tombstones), so lookups never slow down
// as entries come and go.

const EMPTY = -1;

export class KeyIndex {
  private readonly keys: Float64Array;
  private readonly values: Int32Array;
  private readonly mask: number;

  /** Room for `entries` keys at a load factor of at most 1/2. */
  constructor(entries: number) {
    let size = 16;
    while (size < entries * 2) size *= 2;
    this.keys = new Float64Array(size).fill(EMPTY);
    this.values = new Int32Array(size);
    this.mask = size - 1;
  }

  /** The handle stored for `key`, or -1. */
  get(key: number): number {
    const keys = this.keys;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) return this.values[i]!;
      if (k === EMPTY) return -1;
    }
  }

  set(key: number, value: number): void {
    const keys = this.keys;
    let i = this.home(key);
    while (keys[i] !== EMPTY && keys[i] !== key) i = (i + 1) & this.mask;
    keys[i] = key;
    this.values[i] = value;
  }

  /** Remove `key` if it maps to `value` (a stale handle must not remove its successor's key). */
  delete(key: number, value: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(key);
    for (;;) {
      const k = keys[i]!;
      if (k === EMPTY) return;
      if (k === key) break;
      i = (i + 1) & mask;
    }
    if (this.values[i] !== value) return;
    // Backward-shift: move later members of the run into the hole when their home allows it.
    let hole = i;
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(keys[j]!);
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      keys[hole] = keys[j]!;
      this.values[hole] = this.values[j]!;
      hole = j;
    }
    keys[hole] = EMPTY;
  }

  clear(): void {
    this.keys.fill(EMPTY);
  }

  /** The key's home bucket: both halves of the key mixed, so neither hash's weak bits dominate. */
  private home(key: number): number {
    const low = key % 0x200000;
    const high = (key - low) / 0x200000;
    return (Math.imul(high ^ Math.imul(low, 0x9e3779b1), 0x85ebca6b) >>> 7) & this.mask;
  }
}
