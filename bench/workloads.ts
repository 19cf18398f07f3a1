// Query sequences for eviction measurements: a cycle of names, and a reproducible Zipf-like draw.

/** `count` names asked in order, over and over: what dnsperf and many periodic clients do. */
export function* cycle(names: number, count: number): Generator<number> {
  for (let k = 0; k < count; k++) yield k % names;
}

/** `count` ranks drawn from Zipf(s) over `n` names (xorshift32, so every run draws the same). */
export function* zipf(n: number, s: number, count: number): Generator<number> {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  let x = 0x9e3779b9;
  for (let k = 0; k < count; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = ((x >>> 0) / 0x100000000) * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    yield lo;
  }
}
