// The four measurements of the bench, for one server at a time: cache-hit throughput, latency at a
// fixed rate, cache-miss throughput through the upstream, and peak RSS.

import { type PerfOptions, type PerfResult, runPerf } from "./dnsperf.ts";
import { busyPercent, cpuTime, cpuTimes, type Memory, memory } from "./procs.ts";
import type { ServerSpec } from "./setup.ts";

export interface Settings {
  hitSeconds: number;
  latencySeconds: number;
  missSeconds: number;
  missNames: number;
  latencyQps: number;
  clients: number;
  threads: number;
  outstanding: number;
  serverCpu: string;
  clientCpu: string;
}

export interface Measured {
  perf: PerfResult;
  cpuUsPerQuery: number;
  /** The user-space and kernel parts of cpuUsPerQuery. */
  userUsPerQuery: number;
  sysUsPerQuery: number;
  serverCpuS: number;
  cpuBusyPct: Record<string, number>;
  /** Our daemon only: cache hit ratio over the run from its own metrics. */
  cacheHitPct?: number;
}

export interface MissMeasured {
  max: Measured;
  /** Second run at 80 % of max when the max run lost more than LOW_LOSS_PCT. */
  lowLoss: Measured | null;
}

export const LOW_LOSS_PCT = 0.1;

type CacheCounts = { hits: number; misses: number };

async function ourCacheCounts(url: string | undefined): Promise<CacheCounts | null> {
  if (url === undefined) return null;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    const sum = (metric: string) =>
      [...text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "gm"))].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
    return { hits: sum("coredns_cache_hits_total"), misses: sum("coredns_cache_misses_total") };
  } catch {
    return null;
  }
}

/** One dnsperf run against `server` with the server's CPU time measured from /proc around it. */
export async function measure(server: ServerSpec, pid: number, o: PerfOptions): Promise<Measured> {
  const counts0 = await ourCacheCounts(server.metricsUrl);
  const cpu0 = cpuTime(pid);
  const t0 = cpuTimes();
  const perf = await runPerf(o);
  const cpu1 = cpuTime(pid);
  const t1 = cpuTimes();
  const counts1 = await ourCacheCounts(server.metricsUrl);
  const userUs = cpu1.userUs - cpu0.userUs;
  const sysUs = cpu1.sysUs - cpu0.sysUs;
  const serverUs = userUs + sysUs;
  const perQuery = (us: number) => (perf.completed > 0 ? us / perf.completed : Number.NaN);
  const out: Measured = {
    perf,
    cpuUsPerQuery: perQuery(serverUs),
    userUsPerQuery: perQuery(userUs),
    sysUsPerQuery: perQuery(sysUs),
    serverCpuS: serverUs / 1e6,
    cpuBusyPct: busyPercent(t0, t1),
  };
  if (counts0 !== null && counts1 !== null) {
    const hits = counts1.hits - counts0.hits;
    const total = hits + counts1.misses - counts0.misses;
    out.cacheHitPct = total > 0 ? (100 * hits) / total : Number.NaN;
  }
  return out;
}

export function base(server: ServerSpec, s: Settings, file: string): PerfOptions {
  return {
    host: server.host,
    port: server.port,
    file,
    seconds: s.hitSeconds,
    clients: s.clients,
    threads: s.threads,
    outstanding: s.outstanding,
    timeout: 2,
    cpu: s.clientCpu,
  };
}

/** Asks every one of the 10,000 names (twice if anything was lost) so they are all cached. */
export async function warm(server: ServerSpec, s: Settings, hitsFile: string): Promise<PerfResult> {
  const o: PerfOptions = { ...base(server, s, hitsFile), seconds: 15, runs: 1, outstanding: 100 };
  let result = await runPerf(o);
  if (result.lost > 0 || result.completed < result.sent) result = await runPerf(o);
  if (result.lost > 0) throw new Error(`${server.key}: warming lost ${result.lost} queries twice`);
  return result;
}

export async function hits(
  server: ServerSpec,
  pid: number,
  s: Settings,
  hitsFile: string,
): Promise<Measured> {
  await warm(server, s, hitsFile);
  return measure(server, pid, base(server, s, hitsFile));
}

export async function latency(
  server: ServerSpec,
  pid: number,
  s: Settings,
  hitsFile: string,
): Promise<Measured> {
  await warm(server, s, hitsFile);
  return measure(server, pid, {
    ...base(server, s, hitsFile),
    seconds: s.latencySeconds,
    maxQps: s.latencyQps,
    outstanding: 1000,
    verbose: true,
  });
}

export async function misses(
  server: ServerSpec,
  pid: number,
  s: Settings,
  files: { max: string; lowLoss: () => string },
): Promise<MissMeasured> {
  const o: PerfOptions = { ...base(server, s, files.max), seconds: s.missSeconds, runs: 1 };
  const max = await measure(server, pid, o);
  if (max.perf.lossPct <= LOW_LOSS_PCT) return { max, lowLoss: null };
  const rate = Math.max(100, Math.floor(max.perf.qps * 0.8));
  const lowLoss = await measure(server, pid, { ...o, file: files.lowLoss(), maxQps: rate });
  return { max, lowLoss };
}

export function readMemory(pid: number): Memory {
  return memory(pid);
}
