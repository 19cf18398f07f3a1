// Cheap cryptographic randomness for upstream IDs (RFC 5452): one randomFillSync per 4096 IDs.

import { randomFillSync } from "node:crypto";

const ids = new Uint16Array(4096);
let next = ids.length;

/** A uniformly random 16-bit DNS ID. */
export function randomId(): number {
  if (next === ids.length) {
    randomFillSync(ids);
    next = 0;
  }
  return ids[next++]!;
}

/** A random integer in [0, n), n <= 65536. */
export function randomBelow(n: number): number {
  return n <= 1 ? 0 : randomId() % n;
}
