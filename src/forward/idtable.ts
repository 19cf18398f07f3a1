// The queries outstanding on one connection, by DNS ID: a slot array indexed by the ID's low bits,
// so an insert or a delete allocates nothing (a Map allocated an entry per query, promoted with it).

import { randomId } from "./random.ts";

const INITIAL_SLOTS = 64;

export class IdTable<T extends { readonly id: number }> {
  private slots: (T | null)[] = new Array<T | null>(INITIAL_SLOTS).fill(null);
  private mask = INITIAL_SLOTS - 1;
  private readonly maxSlots: number;
  size = 0;

  /** `maxEntries` bounds what the caller inserts; the table grows up to twice that. */
  constructor(maxEntries: number) {
    let n = INITIAL_SLOTS;
    while (n < 2 * maxEntries && n < 0x10000) n *= 2;
    this.maxSlots = n;
  }

  get(id: number): T | null {
    const e = this.slots[id & this.mask]!;
    return e !== null && e.id === id ? e : null;
  }

  /**
   * A random ID (RFC 5452) whose slot is free: as before, an ID that collides is drawn again; here
   * colliding means sharing the low bits, and at most half the slots are in use, so ~2 draws at worst.
   */
  freeId(): number {
    if (2 * (this.size + 1) > this.slots.length && this.slots.length < this.maxSlots) this.grow();
    let id = randomId();
    while (this.slots[id & this.mask] !== null) id = randomId();
    return id;
  }

  /** Put `e` in its slot, which freeId() found free. */
  add(e: T): void {
    this.slots[e.id & this.mask] = e;
    this.size++;
  }

  /** Take `e` out; false when its slot holds something else (already removed). */
  remove(e: T): boolean {
    const i = e.id & this.mask;
    if (this.slots[i] !== e) return false;
    this.slots[i] = null;
    this.size--;
    return true;
  }

  /** Every entry, the table left empty (a closing connection; allocates, but once). */
  drain(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e === null) continue;
      out.push(e);
      this.slots[i] = null;
    }
    this.size = 0;
    return out;
  }

  private grow(): void {
    const old = this.slots;
    const n = old.length * 2;
    this.slots = new Array<T | null>(n).fill(null);
    this.mask = n - 1;
    // Distinct low bits under the old mask stay distinct under the wider one.
    for (const e of old) if (e !== null) this.slots[e.id & this.mask] = e;
  }
}
