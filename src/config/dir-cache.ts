// `cache [TTL] [ZONES...] { success/denial/prefetch/serve_stale/servfail/keepttl }` as CoreDNS's
// plugin/cache/setup.go, plus one stricter rule: an explicit MINTTL above the TTL it goes with is an error.

import type { Directive } from "./parser.ts";
import { type BuildContext, Reader } from "./reader.ts";
import type { CacheConfig, CacheStoreConfig, PrefetchConfig, ServeStaleConfig } from "./types.ts";
import { parseInt10 } from "./values.ts";

const USAGE = "cache [TTL] [ZONES...] [{ ... }]";
const U = {
  success: "success CAPACITY [TTL [MINTTL]]",
  denial: "denial CAPACITY [TTL [MINTTL]]",
  prefetch: "prefetch AMOUNT [DURATION [PERCENTAGE%]]",
  serveStale: "serve_stale [DURATION] [immediate|verify]",
  servfail: "servfail DURATION (0s to 5m)",
  keepttl: "keepttl",
};
const OPTIONS = ["success", "denial", "prefetch", "serve_stale", "servfail", "keepttl"];

export const CACHE_DEFAULTS = {
  capacity: 9984,
  successMaxTtl: 3600,
  denialMaxTtl: 1800,
  minTtl: 5,
  prefetchDurationSec: 60,
  prefetchPercentage: 10,
  serveStaleSec: 3600,
  servfailSec: 5,
} as const;

interface Store {
  capacity: number;
  maxTtl: number;
  minTtl: number;
  /** MINTTL was written explicitly (then it must not exceed the max). */
  explicitMin: boolean;
}

export function buildCache(ctx: BuildContext, d: Directive): CacheConfig {
  const r: Reader = new Reader(ctx, d, USAGE);
  const success: Store = {
    capacity: CACHE_DEFAULTS.capacity,
    maxTtl: CACHE_DEFAULTS.successMaxTtl,
    minTtl: 5,
    explicitMin: false,
  };
  const denial: Store = {
    capacity: CACHE_DEFAULTS.capacity,
    maxTtl: CACHE_DEFAULTS.denialMaxTtl,
    minTtl: 5,
    explicitMin: false,
  };
  let args = d.args;
  // The first argument is the TTL when it is a number, otherwise a zone (as CoreDNS).
  if (args.length > 0 && parseInt10(args[0]!.text) !== null) {
    const ttl = r.int(args[0]!, "TTL", USAGE, 1);
    success.maxTtl = ttl;
    denial.maxTtl = ttl;
    args = args.slice(1);
  }
  const zones = r.zones(args);
  let prefetch: PrefetchConfig | null = null;
  let serveStale: ServeStaleConfig | null = null;
  let servfailTtl: number = CACHE_DEFAULTS.servfailSec;
  let keepTtl = false;
  const seen = new Set<string>();
  for (const s of r.sub()) {
    if (!OPTIONS.includes(s.name)) {
      if (s.name === "disable") r.fail(s.line, 'option "disable" is not supported by nodelocaldns', null);
      r.unknownSub(s, OPTIONS);
    }
    if (seen.has(s.name)) r.fail(s.line, `option "${s.name}" given twice`, null);
    seen.add(s.name);
    switch (s.name) {
      case "success":
      case "denial":
        store(r, s, s.name === "success" ? success : denial);
        break;
      case "prefetch":
        prefetch = buildPrefetch(r, s);
        break;
      case "serve_stale": {
        r.noBlock(s, U.serveStale);
        r.count(s.args, 0, 2, s.line, U.serveStale, "serve_stale");
        const durationSec = s.args[0]
          ? r.duration(s.args[0], "serve_stale duration", U.serveStale) / 1000
          : CACHE_DEFAULTS.serveStaleSec;
        const modeArg = s.args[1];
        const mode = modeArg ? modeArg.text.toLowerCase() : "immediate";
        if (mode !== "immediate" && mode !== "verify") {
          r.fail(
            modeArg!.line,
            `serve_stale mode "${modeArg!.text}" is not immediate or verify`,
            U.serveStale,
          );
        }
        serveStale = { durationSec, mode };
        break;
      }
      case "servfail":
        r.noBlock(s, U.servfail);
        r.count(s.args, 1, 1, s.line, U.servfail, "servfail");
        servfailTtl = r.duration(s.args[0]!, "servfail duration", U.servfail, 0, 300_000) / 1000;
        break;
      case "keepttl":
        r.noBlock(s, U.keepttl);
        r.count(s.args, 0, 0, s.line, U.keepttl, "keepttl");
        keepTtl = true;
        break;
    }
  }
  return {
    zones,
    success: finish(success),
    denial: finish(denial),
    servfailTtl,
    prefetch,
    serveStale,
    keepTtl,
    line: d.line,
  };
}

function store(r: Reader, s: Directive, st: Store): void {
  const usage = s.name === "success" ? U.success : U.denial;
  r.noBlock(s, usage);
  r.count(s.args, 1, 3, s.line, usage, s.name);
  const [cap, ttl, min] = s.args;
  st.capacity = r.int(cap!, `${s.name} capacity`, usage, 1);
  if (ttl) st.maxTtl = r.int(ttl, `${s.name} TTL`, usage, 1);
  if (min) {
    st.minTtl = r.int(min, `${s.name} MINTTL`, usage, 0);
    st.explicitMin = true;
    if (st.minTtl > st.maxTtl) {
      r.fail(min.line, `${s.name} MINTTL ${st.minTtl} is above its TTL ${st.maxTtl}`, usage);
    }
  }
}

function finish(st: Store): CacheStoreConfig {
  // A max below the default min (e.g. `cache 3`) lowers the min with it.
  return { capacity: st.capacity, maxTtl: st.maxTtl, minTtl: Math.min(st.minTtl, st.maxTtl) };
}

function buildPrefetch(r: Reader, s: Directive): PrefetchConfig | null {
  r.noBlock(s, U.prefetch);
  r.count(s.args, 1, 3, s.line, U.prefetch, "prefetch");
  const [amountArg, durArg, pctArg] = s.args;
  const amount = r.int(amountArg!, "prefetch amount", U.prefetch, 0);
  const durationSec = durArg
    ? r.duration(durArg, "prefetch duration", U.prefetch, 1) / 1000
    : CACHE_DEFAULTS.prefetchDurationSec;
  let percentage: number = CACHE_DEFAULTS.prefetchPercentage;
  if (pctArg) {
    const m = pctArg.text.match(/^([+-]?\d+)%$/);
    if (!m)
      r.fail(
        pctArg.line,
        `prefetch percentage "${pctArg.text}" must be a whole number followed by %`,
        U.prefetch,
      );
    percentage = Number(m[1]);
    if (percentage < 10 || percentage > 90) {
      r.fail(
        pctArg.line,
        `prefetch percentage ${percentage}% is out of range; it must be from 10% to 90%`,
        U.prefetch,
      );
    }
  }
  // CoreDNS: amount 0 never prefetches.
  return amount === 0 ? null : { amount, durationSec, percentage };
}
