// Markdown summary of one bench run: a table per scenario, each server's figures (median over rounds)
// and our ratios to unbound and dnsmasq measured in the same run.

import type { ClusterResult } from "./cluster.ts";
import type { MemoryResult } from "./memory.ts";
import type { Memory } from "./procs.ts";
import type { ProfileSummary } from "./profile.ts";
import { renderExtras } from "./report-extra.ts";
import type { Measured, MissMeasured, Settings } from "./scenarios.ts";
import type { VariantResult } from "./variants.ts";

export interface RoundResult {
  hits: Record<string, Measured>;
  latency: Record<string, Measured>;
  miss: Record<string, MissMeasured>;
}

export interface BenchData {
  timestamp: string;
  durationS: number;
  command: string;
  machine: Record<string, unknown> & {
    cpus: number;
    model: string;
    loadavgStart: number[];
    loadavgEnd: number[];
  };
  pinning: { servers: string; dnsperfAndUpstream: string };
  settings: Settings;
  rounds: number;
  lowLossPct: number;
  servers: { key: string; label: string; argv: string[]; config: string; upstreamTransport: string }[];
  memory: { start: Record<string, Memory>; afterWarm: Record<string, Memory>; end: Record<string, Memory> };
  /** Which scenarios ran (--only). */
  scenarios: string[];
  results: RoundResult[];
  profile: ProfileSummary | null;
  cluster: ClusterResult | null;
  metricsCost: VariantResult | null;
  workers: VariantResult | null;
  heap: VariantResult | null;
  /** The "memory" scenario (absent from results older than it). */
  memoryLoad?: MemoryResult | null;
}

const PEERS = ["unbound", "dnsmasq"] as const;

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const fmt = {
  int: (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–"),
  f1: (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–"),
  f3: (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–"),
  pct: (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–"),
};

interface Row {
  label: string;
  /** Value per server key. */
  value: (key: string) => number;
  format: (x: number) => string;
  /** Whether a ratio makes sense for this row. */
  ratio: boolean;
}

function table(data: BenchData, rows: Row[], note?: (key: string) => string): string {
  const keys = data.servers.map((s) => s.key);
  const peers = PEERS.filter((p) => keys.includes(p) && keys.includes("ours"));
  const head = [
    "",
    ...data.servers.map((s) => s.label + (note?.(s.key) ?? "")),
    ...peers.map((p) => `ours ÷ ${p}`),
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const row of rows) {
    const cells = keys.map((k) => row.format(row.value(k)));
    const ratios = peers.map((p) => {
      const r = row.value("ours") / row.value(p);
      return row.ratio && Number.isFinite(r) ? `${r.toFixed(2)}×` : "";
    });
    lines.push(`| ${[row.label, ...cells, ...ratios].join(" | ")} |`);
  }
  return lines.join("\n");
}

export function renderReport(data: BenchData): string {
  const r = data.results;
  const s = data.settings;
  const hit = (key: string, f: (m: Measured) => number) =>
    median(r.map((x) => (x.hits[key] ? f(x.hits[key]) : Number.NaN)));
  const lat = (key: string, f: (m: Measured) => number) =>
    median(r.map((x) => (x.latency[key] ? f(x.latency[key]) : Number.NaN)));
  const miss = (key: string, f: (m: MissMeasured) => number) =>
    median(r.map((x) => (x.miss[key] ? f(x.miss[key]) : Number.NaN)));
  const sustained = (m: MissMeasured) => (m.lowLoss ?? m.max).perf;
  const mib = (m: Memory | undefined, f: (m: Memory) => number) =>
    m === undefined ? Number.NaN : f(m) / 1024;
  const cmd = (pick: (x: RoundResult) => Measured | undefined) => {
    const m = r.length > 0 ? pick(r[0]!) : undefined;
    return m === undefined ? "" : `\`${m.perf.command}\``;
  };
  const ourP99 = lat("ours", (m) => m.perf.percentiles?.p99Ms ?? Number.NaN);
  const out: string[] = [];
  out.push(`# nodelocaldns benchmark — ${data.timestamp}`, "");
  out.push(
    `Command: \`${data.command}\` (whole run ${data.durationS.toFixed(0)} s, ${data.rounds} round(s); figures are medians over rounds).`,
    "",
    `Machine: ${data.machine.cpus} × ${data.machine.model}, Linux ${String(data.machine.kernel)}, shared with other jobs and noisy ` +
      `(load average ${data.machine.loadavgStart.map((x) => x.toFixed(2)).join(" ")} at start, ` +
      `${data.machine.loadavgEnd.map((x) => x.toFixed(2)).join(" ")} at end). Node ${String(data.machine.node)}, ` +
      `unbound ${String(data.machine.unbound)}, dnsmasq ${String(data.machine.dnsmasq)}, dnsperf ${String(data.machine.dnsperf)}.`,
    "",
    `Daemon under test: a snapshot of dist/ taken at start (git ${String(data.machine.git)}, ` +
      `${String(data.machine.gitDirtyFiles)} uncommitted paths in the work tree).`,
    "",
    `Everything runs in a private network namespace (loopback only). Pinning with taskset: each server on ${data.pinning.servers}; ` +
      `dnsperf and the upstream unbound on ${data.pinning.dnsperfAndUpstream}. ` +
      "Upstream: unbound serving 10,000 A records (TTL 3600) from local-data plus a `redirect` zone for unique miss names. " +
      "Our daemon: 1 worker, `cache 30 { success 20000 }`, `forward … { force_tcp }`, `prometheus` on; unbound: 1 thread, `forward-tcp-upstream: yes`; " +
      "dnsmasq: `--cache-size=20000`, UDP to the upstream (it cannot forward UDP queries over TCP). " +
      "The 10,000 names are (re)warmed right before each hit and latency run. " +
      "CPU µs/query = the server's utime+stime delta (/proc/PID/stat, 10 ms ticks) over the run ÷ queries completed. " +
      "Ratios are ours ÷ peer: above 1 is better for q/s, below 1 is better for latency, CPU and memory.",
    "",
  );
  if (r.length === 0) {
    out.push(...renderExtras(data));
    return out.join("\n");
  }
  out.push(
    `## 1. Cache hits, maximum throughput`,
    "",
    cmd((x) => x.hits.ours),
    "",
  );
  out.push(
    table(data, [
      { label: "queries/s", value: (k) => hit(k, (m) => m.perf.qps), format: fmt.int, ratio: true },
      { label: "loss %", value: (k) => hit(k, (m) => m.perf.lossPct), format: fmt.pct, ratio: false },
      {
        label: "server CPU µs/query",
        value: (k) => hit(k, (m) => m.cpuUsPerQuery),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "… user µs/query",
        value: (k) => hit(k, (m) => m.userUsPerQuery),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "… kernel µs/query",
        value: (k) => hit(k, (m) => m.sysUsPerQuery),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "avg latency ms",
        value: (k) => hit(k, (m) => m.perf.avgLatencyMs),
        format: fmt.f3,
        ratio: true,
      },
      {
        label: "CPU0 busy % (server)",
        value: (k) => hit(k, (m) => m.cpuBusyPct.cpu0 ?? Number.NaN),
        format: fmt.f1,
        ratio: false,
      },
      {
        label: "CPU1 busy % (dnsperf)",
        value: (k) => hit(k, (m) => m.cpuBusyPct.cpu1 ?? Number.NaN),
        format: fmt.f1,
        ratio: false,
      },
    ]),
    "",
  );
  const saturated = data.servers
    .filter((x) => x.key !== "ours" && hit(x.key, (m) => m.cpuBusyPct.cpu1 ?? 0) >= 90)
    .map((x) => x.key);
  if (saturated.length > 0) {
    out.push(
      `dnsperf's CPU was ≥ 90 % busy against ${saturated.join(" and ")}, so those q/s are partly limited by the load ` +
        "generator and ours ÷ peer q/s is an upper bound; server CPU µs/query is the cleaner comparison.",
      "",
    );
  }
  const hitPct = hit("ours", (m) => m.cacheHitPct ?? Number.NaN);
  if (Number.isFinite(hitPct))
    out.push(`Our daemon's own metrics: ${hitPct.toFixed(2)} % cache hits during the run.`, "");
  out.push(
    `## 2. Latency at a fixed ${fmt.int(s.latencyQps)} queries/s (cache hits)`,
    "",
    cmd((x) => x.latency.ours),
    "",
  );
  const p = (f: (x: NonNullable<Measured["perf"]["percentiles"]>) => number) => (k: string) =>
    lat(k, (m) => (m.perf.percentiles === null ? Number.NaN : f(m.perf.percentiles)));
  out.push(
    table(data, [
      { label: "p50 ms", value: p((x) => x.p50Ms), format: fmt.f3, ratio: true },
      { label: "p90 ms", value: p((x) => x.p90Ms), format: fmt.f3, ratio: true },
      { label: "p99 ms", value: p((x) => x.p99Ms), format: fmt.f3, ratio: true },
      { label: "p99.9 ms", value: p((x) => x.p999Ms), format: fmt.f3, ratio: true },
      { label: "max ms", value: p((x) => x.maxMs), format: fmt.f3, ratio: true },
      { label: "achieved queries/s", value: (k) => lat(k, (m) => m.perf.qps), format: fmt.int, ratio: false },
      { label: "loss %", value: (k) => lat(k, (m) => m.perf.lossPct), format: fmt.pct, ratio: false },
      {
        label: "server CPU µs/query",
        value: (k) => lat(k, (m) => m.cpuUsPerQuery),
        format: fmt.f1,
        ratio: true,
      },
    ]),
    "",
    `Target p99 ≤ 0.3 ms: ours ${fmt.f3(ourP99)} ms — ${ourP99 <= 0.3 ? "met" : "NOT met"}. ` +
      "Percentiles are computed from dnsperf -v per-query latencies (this dnsperf has no latency histogram option).",
    "",
  );
  out.push(
    `## 3. Cache misses, unique names forwarded to the upstream`,
    "",
    cmd((x) => x.miss.ours?.max),
    "",
  );
  out.push(
    table(
      data,
      [
        {
          label: "queries/s (max run)",
          value: (k) => miss(k, (m) => m.max.perf.qps),
          format: fmt.int,
          ratio: true,
        },
        {
          label: "loss % (max run)",
          value: (k) => miss(k, (m) => m.max.perf.lossPct),
          format: fmt.pct,
          ratio: false,
        },
        {
          label: `queries/s at ≤ ${data.lowLossPct} % loss`,
          value: (k) =>
            miss(k, (m) => (sustained(m).lossPct <= data.lowLossPct ? sustained(m).qps : Number.NaN)),
          format: fmt.int,
          ratio: true,
        },
        {
          label: "loss % (that run)",
          value: (k) => miss(k, (m) => sustained(m).lossPct),
          format: fmt.pct,
          ratio: false,
        },
        {
          label: "server CPU µs/query",
          value: (k) => miss(k, (m) => m.max.cpuUsPerQuery),
          format: fmt.f1,
          ratio: true,
        },
        {
          label: "avg latency ms",
          value: (k) => miss(k, (m) => m.max.perf.avgLatencyMs),
          format: fmt.f3,
          ratio: true,
        },
      ],
      (k) => ` (${data.servers.find((x) => x.key === k)?.upstreamTransport ?? "?"} upstream)`,
    ),
    "",
    `Unique names under miss.bench.test (${fmt.int(s.missNames)} per run, -n 1). When the max run lost more than ` +
      `${data.lowLossPct} % a second run at 80 % of its rate (fresh names) gives the low-loss figure. ` +
      "dnsmasq forwards over UDP, so its column (and the ours ÷ dnsmasq ratio) is not like for like.",
    "",
  );
  out.push(`## 4. Memory (10,000 names cached)`, "");
  out.push(
    table(data, [
      {
        label: "VmRSS at start (idle), MiB",
        value: (k) => mib(data.memory.start[k], (m) => m.vmRssKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "RssAnon after warm-up, MiB",
        value: (k) => mib(data.memory.afterWarm[k], (m) => m.rssAnonKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "RssFile after warm-up, MiB",
        value: (k) => mib(data.memory.afterWarm[k], (m) => m.rssFileKiB),
        format: fmt.f1,
        ratio: false,
      },
      {
        label: "VmHWM after warm-up, MiB",
        value: (k) => mib(data.memory.afterWarm[k], (m) => m.vmHwmKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "VmHWM at end, MiB",
        value: (k) => mib(data.memory.end[k], (m) => m.vmHwmKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "VmRSS at end, MiB",
        value: (k) => mib(data.memory.end[k], (m) => m.vmRssKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "RssAnon at end, MiB",
        value: (k) => mib(data.memory.end[k], (m) => m.rssAnonKiB),
        format: fmt.f1,
        ratio: true,
      },
      {
        label: "RssFile at end, MiB",
        value: (k) => mib(data.memory.end[k], (m) => m.rssFileKiB),
        format: fmt.f1,
        ratio: false,
      },
    ]),
    "",
    "“At end” includes the cache-miss runs (hundreds of thousands of unique names went through each cache).",
    "",
  );
  if (data.profile !== null) {
    const pr = data.profile;
    out.push(
      "## CPU profile of our daemon (separate hit run under `node --cpu-prof`)",
      "",
      `${fmt.int(pr.run.perf.qps)} q/s while profiled; ${pr.totalMs} ms of non-idle samples. Profile: \`${pr.file}\`.`,
      "",
      "| self ms | % | function |",
      "|---:|---:|---|",
      ...pr.byFunction.slice(0, 20).map((e) => `| ${e.selfMs} | ${e.pct} | \`${e.name}\` |`),
      "",
      "| self ms | % | file |",
      "|---:|---:|---|",
      ...pr.byFile.slice(0, 12).map((e) => `| ${e.selfMs} | ${e.pct} | \`${e.name}\` |`),
      "",
    );
  }
  out.push(...renderExtras(data));
  return out.join("\n");
}
