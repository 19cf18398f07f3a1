// Upstream ordering per query: random | round_robin | sequential (CoreDNS forward policies).

import type { ForwardPolicy } from "../config/types.ts";
import { randomBelow } from "./random.ts";

export class Policy<T> {
  private readonly kind: ForwardPolicy;
  private rotor = 0;

  constructor(kind: ForwardPolicy) {
    this.kind = kind;
  }

  /**
   * The order in which one query tries `items`: `items` itself when that is the order (sequential,
   * or one item: nothing allocated per query), else a fresh array. `items` is never changed.
   */
  order(items: readonly T[]): readonly T[] {
    const n = items.length;
    if (this.kind === "sequential" || n <= 1) return items;
    if (this.kind === "round_robin") {
      const start = this.rotor++ % n;
      if (this.rotor >= 0x40000000) this.rotor = 0;
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = items[(start + i) % n]!;
      return out;
    }
    const out = items.slice(); // Fisher-Yates
    for (let i = n - 1; i > 0; i--) {
      const j = randomBelow(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }
}
