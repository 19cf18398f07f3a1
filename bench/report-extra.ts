// Markdown for the scenarios beyond the peer comparison: cluster records (issue 4), metrics cost
// (issue 6) and workers (issue 7). Figures are medians over rounds; ratios come from the same run.

import { basename } from "node:path";
import type { ClusterResult, Window } from "./cluster.ts";
import { median } from "./daemons.ts";
import type { Memory } from "./procs.ts";
import type { BenchData } from "./report.ts";
import { renderMemory, renderPeak, renderWorkersIndex } from "./report-memory.ts";
import type { Measured } from "./scenarios.ts";
import type { VariantResult } from "./variants.ts";

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");
const mib = (m: Memory, f: (m: Memory) => number) => f1(f(m) / 1024);
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const head = (cells: string[]) => [
  row(cells),
  `|${cells.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
];

function measuredRows(cols: Measured[][], ratioTo: number | null): string[] {
  const med = (ms: Measured[], f: (m: Measured) => number) => median(ms.map(f));
  const cpu = cols.map((ms) => med(ms, (m) => m.cpuUsPerQuery));
  const lines = [
    row(["queries/s", ...cols.map((ms) => int(med(ms, (m) => m.perf.qps)))]),
    row(["loss %", ...cols.map((ms) => f3(med(ms, (m) => m.perf.lossPct)))]),
    row(["server CPU µs/query", ...cols.map((ms) => f2(med(ms, (m) => m.cpuUsPerQuery)))]),
    row(["… user µs/query", ...cols.map((ms) => f2(med(ms, (m) => m.userUsPerQuery)))]),
    row(["… kernel µs/query", ...cols.map((ms) => f2(med(ms, (m) => m.sysUsPerQuery)))]),
    row(["avg latency ms", ...cols.map((ms) => f3(med(ms, (m) => m.perf.avgLatencyMs)))]),
    row(["CPU0 busy %", ...cols.map((ms) => f1(med(ms, (m) => m.cpuBusyPct.cpu0 ?? Number.NaN)))]),
    row(["CPU1 busy %", ...cols.map((ms) => f1(med(ms, (m) => m.cpuBusyPct.cpu1 ?? Number.NaN)))]),
  ];
  if (ratioTo !== null)
    lines.push(row([`CPU/query ÷ column ${ratioTo + 1}`, ...cpu.map((c) => `${f2(c / cpu[ratioTo]!)}×`)]));
  return lines;
}

function windowRow(name: string, w: Window | null): string {
  if (w === null) return row([name, "–", "–", "–", "–", "–", "–", "–", "–"]);
  const p = w.latency;
  return row([
    name,
    `${f1(w.fromS)}–${f1(w.toS)}`,
    int(w.answered),
    int(w.lost),
    f3(w.lossPct),
    f3(p.p50Ms),
    f3(p.p99Ms),
    f3(p.p999Ms),
    f3(p.maxMs),
  ]);
}

export function renderCluster(c: ClusterResult): string[] {
  const out = [
    "## 5. Cluster records in-process (issue 4)",
    "",
    "Run alone with `bash bench/run.sh --only cluster`.",
    "",
  ];
  const fx = c.fixture;
  out.push(
    `Fake API server (test/support/kubeapi-server.ts, real list/watch protocol, in the bench process on the client CPU): ` +
      `${int(fx.services)} Services (${int(fx.headless)} headless, ${int(fx.services - fx.headless)} ClusterIP, ports http/80 and metrics/9090) ` +
      `in ${fx.namespaces} Namespaces, ${int(fx.slices)} EndpointSlices with 5 ready endpoints each (${int(fx.endpoints)} endpoints; headless ones with hostnames). ` +
      `Loaded in ${int(c.loadMs)} ms. Daemon: 1 worker on the server CPU, this Corefile:`,
    "",
    "```",
    c.corefile.trimEnd(),
    "```",
    "",
  );
  if (c.error !== undefined) out.push(`**The scenario failed:** ${c.error}`, "");
  out.push(
    `From daemon start to \`/ready\` 200 (start-up + list of every kind + index): **${int(c.syncMs)} ms**` +
      ` (log line "cluster index synced" ${c.syncLogged ? "seen" : "NOT seen"}).`,
    "",
    "Answer checks before measuring:",
    "",
    ...c.checks.map((x) => `- ${x}`),
    "",
  );
  if (c.rounds.length > 0) {
    const r0 = c.rounds[0]!;
    out.push(
      "### 5a/5b. In-process answers vs cache hits on the same daemon",
      "",
      `\`${r0.a.perf.command}\` (then the same with cluster-srv.txt and hits.txt; the \`.\` block's 10,000 names re-warmed before each hit run). ` +
        `A names: all 10,000 services (ClusterIP: 1 A; headless: 5 A). SRV names: \`_http._tcp.<svc>\` for all 10,000 (headless: 5 SRV + 5 glue A). ` +
        `${c.rounds.length} rounds, interleaved A, SRV, hits; medians. Index answers are never cached (the cache lookup misses first, then the index answers).`,
      "",
      ...head(["", "cluster A", "cluster SRV", "cache hits (`.` block)"]),
      ...measuredRows([c.rounds.map((x) => x.a), c.rounds.map((x) => x.srv), c.rounds.map((x) => x.hits)], 2),
      "",
    );
    const ratios = c.rounds.map((x) => x.a.cpuUsPerQuery / x.hits.cpuUsPerQuery);
    const srvRatios = c.rounds.map((x) => x.srv.cpuUsPerQuery / x.hits.cpuUsPerQuery);
    const rA = median(ratios);
    const rS = median(srvRatios);
    out.push(
      `Per-round CPU ratios to hits: A ${ratios.map(f2).join(", ")}; SRV ${srvRatios.map(f2).join(", ")}. ` +
        `Target ≤ 1.2×: A ${f2(rA)}× — ${rA <= 1.2 ? "met" : "NOT met"}; SRV ${f2(rS)}× — ${rS <= 1.2 ? "met" : "NOT met"}.`,
      "",
    );
  }
  const m = c.memory;
  out.push(
    "### 5c. Memory with the index loaded",
    "",
    ...head(["", "VmRSS MiB", "VmHWM MiB"]),
    row([
      "right after /ready (index loaded, nothing cached)",
      mib(m.afterSync, (x) => x.vmRssKiB),
      mib(m.afterSync, (x) => x.vmHwmKiB),
    ]),
    row([
      "after the A/SRV/hit runs (10,000 names cached too)",
      mib(m.afterRuns, (x) => x.vmRssKiB),
      mib(m.afterRuns, (x) => x.vmHwmKiB),
    ]),
    row([
      "after the event burst",
      mib(m.afterBurst, (x) => x.vmRssKiB),
      mib(m.afterBurst, (x) => x.vmHwmKiB),
    ]),
    "",
    `Target RSS < 150 MiB with the index loaded: ${m.afterSync.vmRssKiB / 1024 < 150 ? "met" : "NOT met"} right after /ready ` +
      `(${mib(m.afterSync, (x) => x.vmRssKiB)} MiB); ${m.afterRuns.vmRssKiB / 1024 < 150 ? "met" : "NOT met"} after the full-rate runs ` +
      `(${mib(m.afterRuns, (x) => x.vmRssKiB)} MiB; peak ${mib(m.afterBurst, (x) => x.vmHwmKiB)} MiB). What the runs add is ` +
      "the 10,000 cached names and the garbage V8 collects at its old-generation limit (section 8 weighs the shipped cap).",
    "",
  );
  const b = c.burst;
  if (b !== null) {
    out.push(
      "### 5d. Watch events applied while answering",
      "",
      `\`${b.run.perf.command}\` runs at a fixed rate on the cluster A names; ${c.options.burstAt} s in, the fake server writes ` +
        `${int(b.events)} EndpointSlice MODIFIED events as fast as it can (each moves one endpoint of one slice to a new address; ` +
        `every slice changes ${Math.round(b.events / fx.slices)} times); the last one moves headless service 0's first endpoint to a sentinel address, ` +
        "which a Node client then polls for (every ~2 ms once the writing is done).",
      "",
      ...head(["", "value"]),
      row(["events", int(b.events)]),
      row(["fake server done writing after, ms", int(b.emitMs)]),
      row(["sentinel answered after, ms", int(b.appliedMs)]),
      row(["**events applied per second**", `**${int(b.eventsPerS)}**`]),
      row(["(the writer's own rate, events/s)", int(b.emitterEventsPerS)]),
      row(["daemon CPU busy during the burst (incl. answering), %", f1(b.daemonCpuBusyPct)]),
      row([
        "sampled headless services with the final addresses",
        `${b.sampleChecked - b.sampleWrong}/${b.sampleChecked}`,
      ]),
      row(["whole run: queries/s, loss %", `${int(b.run.perf.qps)}, ${f3(b.run.perf.lossPct)}`]),
      "",
      `Target ≥ 10,000 events/s: ${b.eventsPerS >= 10_000 ? "met" : "NOT met"}.`,
      "",
      "Latency by window of the same dnsperf run (seconds from its start; a query is placed by its position in dnsperf's " +
        "receipt-ordered `-v` output at the fixed rate, a timeout moved back by the 2 s timeout. Answers are placed within a few " +
        "tens of ms; timeouts can land up to ~0.5 s early, so a loss shown just before the burst belongs to its first second. " +
        `dnsperf's own total for the run: ${int(b.run.perf.lost)} of ${int(b.run.perf.sent)} lost):`,
      "",
      ...head(["window", "s", "answered", "lost", "loss %", "p50 ms", "p99 ms", "p99.9 ms", "max ms"]),
      windowRow("before the burst", b.windows.before),
      windowRow("during (until the sentinel answered)", b.windows.during),
      windowRow("after (+0.5 s)", b.windows.after),
      "",
      `Per second (burst from ${f1(b.burstFromS)} s to ${f1(b.burstToS)} s):`,
      "",
      ...head(["second", "s", "answered", "lost", "loss %", "p50 ms", "p99 ms", "p99.9 ms", "max ms"]),
      ...b.timeline.map((w, i) => windowRow(String(i + 1), w)),
      "",
    );
  }
  const wm = [
    ...c.watchMetrics.afterSync.map((l) => `after sync: ${l}`),
    ...c.watchMetrics.afterBurst.map((l) => `after burst: ${l}`),
  ];
  if (wm.length > 0) out.push("Watch metrics scraped:", "", "```", ...wm, "```", "");
  return out;
}

function variantTable(v: VariantResult): string[] {
  const cols = v.variants.map((x) => v.runs.filter((r) => r.key === x.key).map((r) => r.m));
  return [
    ...head(["", ...v.variants.map((x) => `${x.label} (taskset ${x.cpu})`)]),
    ...measuredRows(cols, null),
  ];
}

function perRound(v: VariantResult, a: string, b: string): number[] {
  const out: number[] = [];
  for (let r = 0; r < v.rounds; r++) {
    const x = v.runs.find((y) => y.key === a && y.round === r);
    const y = v.runs.find((z) => z.key === b && z.round === r);
    if (x && y) out.push(x.m.cpuUsPerQuery / y.m.cpuUsPerQuery);
  }
  return out;
}

export function renderMetrics(v: VariantResult): string[] {
  const out = [
    "## 6. Cost of metrics on a cache hit (issue 6)",
    "",
    "Run alone with `bash bench/run.sh --only metrics`.",
    "",
  ];
  if (v.error !== undefined) out.push(`**The scenario failed:** ${v.error}`, "");
  const cmd = v.runs[0]?.m.perf.command ?? "";
  out.push(
    `Two daemons side by side (1 worker each, same CPU), the peers scenario's Corefile with and without the \`prometheus\` line ` +
      `(without it the chain has no metrics step). Measured alternately (ABBA), ${v.rounds} rounds, 10,000 cached names re-warmed before each run. \`${cmd}\``,
    "",
    ...variantTable(v),
    "",
  );
  const on = median(v.runs.filter((r) => r.key === "metrics-on").map((r) => r.m.cpuUsPerQuery));
  const off = median(v.runs.filter((r) => r.key === "metrics-off").map((r) => r.m.cpuUsPerQuery));
  const rounds = perRound(v, "metrics-on", "metrics-off");
  const share = (on - off) / on;
  out.push(
    `CPU/query on ÷ off: **${f2(on / off)}×** (per round ${rounds.map(f2).join(", ")}); counting's share of a hit = (on − off) ÷ on = ` +
      `**${f1(100 * share)} %**. Target ≤ 10 %: ${share <= 0.1 ? "met" : "NOT met"}. ` +
      "Round-to-round noise in CPU/query on this shared machine is a few %, so read differences under ~3 % as zero.",
    "",
  );
  return out;
}

export function renderWorkers(v: VariantResult, cpus: number): string[] {
  const out = [
    "## 7. One worker vs two (issue 7)",
    "",
    "Run alone with `bash bench/run.sh --only workers`.",
    "",
  ];
  if (v.error !== undefined) out.push(`**The scenario failed:** ${v.error}`, "");
  const cmd = v.runs[0]?.m.perf.command ?? "";
  out.push(
    `Cache hits, \`-workers 1\` and \`-workers 2\` (primary + 2 forked workers on one SO_REUSEPORT address), the peers scenario's Corefile. ` +
      `dnsperf with ${v.clients} client sockets so the kernel's SO_REUSEPORT hash spreads them over the workers: \`${cmd}\`. ` +
      `Server CPU is summed over the primary and its workers. ${v.rounds} rounds, alternated.`,
    "",
    ...variantTable(v),
    "",
  );
  for (const x of v.variants) {
    const runs = v.runs.filter((r) => r.key === x.key);
    if (runs.length > 0 && runs[0]!.perProcessCpuS.length > 1) {
      out.push(
        `CPU seconds per process of ${x.label} in each run (primary first): ${runs.map((r) => r.perProcessCpuS.map(f2).join(" / ")).join("; ")}.`,
        "",
      );
    }
  }
  const q = (k: string) => median(v.runs.filter((r) => r.key === k).map((r) => r.m.perf.qps));
  out.push(
    `Queries/s with 2 workers ÷ 1 worker: **${f2(q("workers-2") / q("workers-1"))}×**; CPU/query 2 ÷ 1: ${f2(median(perRound(v, "workers-2", "workers-1")))}×.`,
    "",
  );
  if (cpus <= 2) {
    out.push(
      `This machine has ${cpus} CPUs: with 1 worker, the daemon has CPU 0 and dnsperf CPU 1 to itself; with 2 workers the daemon ` +
        "needs both CPUs, so dnsperf (still pinned to CPU 1) competes with one worker for that CPU. The 2-worker figure is " +
        "therefore a floor for what 2 workers give on a machine with a spare core for the load generator.",
      "",
    );
  }
  return out;
}

export function renderHeap(v: VariantResult): string[] {
  const out = [
    "## 8. V8 heap growth with the cluster index loaded (issue 4)",
    "",
    "Run alone with `bash bench/run.sh --only heap`.",
    "",
  ];
  if (v.error !== undefined) out.push(`**The scenario failed:** ${v.error}`, "");
  const cmd = v.runs[0]?.m.perf.command ?? "";
  out.push(
    "Two daemons side by side (1 worker each, same CPU), each indexing the cluster scenario's 10,000 Services / 50,000 endpoints " +
      "from the fake API server and serving the peers scenario's cache-hit block; they differ only in node flags. " +
      `Measured alternately (ABBA), ${v.rounds} rounds, 10,000 cached names re-warmed before each run. \`${cmd}\``,
    "",
    ...variantTable(v),
    "",
    ...head(["", ...v.variants.map((x) => x.label)]),
    `| VmRSS after the runs, MiB | ${v.variants.map((x) => f1((v.memory[x.key]?.vmRssKiB ?? Number.NaN) / 1024)).join(" | ")} |`,
    `| VmHWM after the runs, MiB | ${v.variants.map((x) => f1((v.memory[x.key]?.vmHwmKiB ?? Number.NaN) / 1024)).join(" | ")} |`,
    "",
  );
  const [a, b] = v.variants;
  if (a !== undefined && b !== undefined) {
    const rounds = perRound(v, b.key, a.key);
    const hwm = (k: string) => v.memory[k]?.vmHwmKiB ?? Number.NaN;
    out.push(
      `CPU/query \`${b.label}\` ÷ \`${a.label}\`: **${f2(median(rounds))}×** (per round ${rounds.map(f2).join(", ")}); ` +
        `peak RSS ${f1(hwm(b.key) / 1024)} vs ${f1(hwm(a.key) / 1024)} MiB (${f2(hwm(b.key) / hwm(a.key))}×).`,
      "",
    );
  }
  return out;
}

export function renderExtras(data: BenchData): string[] {
  const out: string[] = [];
  if (data.cluster !== null) out.push(...renderCluster(data.cluster));
  if (data.cluster?.workersIndex) out.push(...renderWorkersIndex(data.cluster.workersIndex));
  if (data.metricsCost !== null) out.push(...renderMetrics(data.metricsCost));
  if (data.workers !== null) out.push(...renderWorkers(data.workers, data.machine.cpus));
  if (data.heap) out.push(...renderHeap(data.heap)); // absent from results older than the scenario
  if (data.memoryLoad) out.push(...renderMemory(data.memoryLoad, (path) => basename(path)));
  out.push(...renderPeak(data));
  return out;
}
