// Cache keys of entries inside some zones, indexed by every ancestor name of their owner down to
// the zone, so "drop this name and everything under it" touches only what it drops.

import { nameInZone, nameToWire, type QueryView, wireToName } from "../dns/index.ts";

export class NameIndex {
  readonly zoneNames: string[];
  private readonly zones: { name: string; wire: Buffer }[];
  private readonly byAncestor = new Map<string, Set<number>>();

  constructor(zones: readonly string[]) {
    this.zoneNames = [...zones];
    this.zones = zones.map((name) => ({ name, wire: nameToWire(name) }));
  }

  /** Register the query's cache key if its name lies in one of the zones. */
  track(view: QueryView, _entry: unknown): void {
    const zone = this.zones.find((z) => nameInZone(view.buf, 12, view.qnameEnd, z.wire));
    if (zone === undefined) return;
    let name = wireToName(view.buf, 12, view.qnameEnd);
    for (;;) {
      let keys = this.byAncestor.get(name);
      if (keys === undefined) {
        keys = new Set();
        this.byAncestor.set(name, keys);
      }
      keys.add(view.key);
      if (name === zone.name || name === ".") break;
      const dot = name.indexOf(".");
      name = name.slice(dot + 1) || ".";
    }
  }

  /** The keys registered under any of `names` (forgotten once taken; stale keys are harmless). */
  take(names: readonly string[]): Set<number> {
    const out = new Set<number>();
    for (const name of names) {
      const keys = this.byAncestor.get(name);
      if (keys === undefined) continue;
      for (const key of keys) out.add(key);
      this.byAncestor.delete(name);
    }
    return out;
  }

  clear(): void {
    this.byAncestor.clear();
  }
}
