// A cache configuration for unit tests: small capacities, CoreDNS defaults otherwise.

import type { CacheConfig } from "../../src/config/types.ts";

export function cacheConfig(overrides: Partial<CacheConfig> = {}): CacheConfig {
  return {
    zones: [],
    success: { capacity: 100, maxTtl: 3600, minTtl: 5 },
    denial: { capacity: 100, maxTtl: 1800, minTtl: 5 },
    servfailTtl: 5,
    prefetch: null,
    serveStale: null,
    keepTtl: false,
    line: 1,
    ...overrides,
  };
}
