// Entries inside the volatile zones (the cluster zones, whose answers a watch change invalidates):
// a dense list of their handles in typed arrays, so invalidating names costs the number of such
// entries (usually few: in-process cluster answers are not stored) and never the cache's size.

import { HEADER_LENGTH, nameInZone, nameToWire } from "../dns/index.ts";
import type { Arena } from "./arena.ts";

export class VolatileNames {
  readonly zoneNames: string[];
  private readonly zoneWires: Buffer[];
  private readonly arenas: readonly Arena[];
  private readonly list: Int32Array;
  /** Each handle's position in `list`, or -1. */
  private readonly position: Int32Array;
  private count = 0;

  constructor(zones: readonly string[], arenas: readonly Arena[]) {
    this.zoneNames = [...zones];
    this.zoneWires = zones.map((zone) => nameToWire(zone));
    this.arenas = arenas;
    const handles = 2 * Math.max(...arenas.map((a) => a.capacity));
    this.list = new Int32Array(handles);
    this.position = new Int32Array(handles).fill(-1);
  }

  /** Remember the entry if its name lies in one of the zones. */
  track(handle: number): void {
    if (this.position[handle]! >= 0 || !this.within(handle, this.zoneWires)) return;
    this.position[handle] = this.count;
    this.list[this.count++] = handle;
  }

  untrack(handle: number): void {
    const at = this.position[handle]!;
    if (at < 0) return;
    const last = this.list[--this.count]!;
    this.list[at] = last;
    this.position[last] = at;
    this.position[handle] = -1;
  }

  /** The tracked entries whose name is one of `names` or below one of them. */
  under(names: readonly string[]): number[] {
    if (this.count === 0) return [];
    const wires: Buffer[] = [];
    for (const name of names) {
      try {
        wires.push(nameToWire(name));
      } catch {
        // not a valid DNS name: nothing can be cached under it
      }
    }
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const handle = this.list[i]!;
      if (this.within(handle, wires)) out.push(handle);
    }
    return out;
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) this.position[this.list[i]!] = -1;
    this.count = 0;
  }

  private within(handle: number, wires: readonly Buffer[]): boolean {
    const arena = this.arenas[handle & 1]!;
    const slot = handle >> 1;
    const buf = arena.bytesOf(slot);
    const start = arena.startOf(slot) + HEADER_LENGTH;
    const end = arena.startOf(slot) + arena.qnameEnd[slot]!;
    for (const wire of wires) if (nameInZone(buf, start, end, wire)) return true;
    return false;
  }
}
