// Markdown for the "memory" scenario (growth per phase, ours and unbound, with the plots) and the
// bench-wide peak: the highest VmHWM our daemon reached in any scenario of the run.

import type { WorkersIndexResult } from "./cluster-workers.ts";
import type { MemoryResult } from "./memory.ts";
import type { Memory } from "./procs.ts";
import type { BenchData } from "./report.ts";

const mib = (kib: number) => (kib / 1024).toFixed(1);
/** The growth target of issue 12 for each phase, MiB of VmRSS. */
const GROWTH_TARGET_MIB = 32;
/** The VmHWM target of issue 12 over the whole bench, index included, MiB. */
const HWM_TARGET_MIB = 128;

export function renderMemory(m: MemoryResult, plotBase: (path: string) => string): string[] {
  const out = [
    "### Memory under load (ours and unbound, same run)",
    "",
    `Phases: mixed = ${m.options.mixedSeconds} s full rate, half cached names and half never-seen names; ` +
      `malformed = ${m.options.malformedPackets.toLocaleString("en")} malformed datagrams; ` +
      `outage = upstream stopped for ${m.options.outageSeconds} s at ${m.options.outageQps} q/s of new names. ` +
      "Start/end are read from /proc before the phase and 2 s after its load stops; peak is the highest 250 ms sample. " +
      `Target: VmRSS growth ≤ ${GROWTH_TARGET_MIB} MiB per phase.`,
    "",
    "| phase | server | VmRSS start → end MiB | growth (peak) MiB | RssAnon start → end MiB | RssFile end MiB | VmHWM end MiB | q/s, loss % |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const p of m.phases) {
    const growth = (p.end.vmRssKiB - p.start.vmRssKiB) / 1024;
    const peak = (p.peakRssKiB - p.start.vmRssKiB) / 1024;
    const rate = p.qps === undefined ? "" : `${p.qps.toFixed(0)}, ${p.lossPct?.toFixed(2)}`;
    out.push(
      `| ${p.phase} | ${p.server} | ${mib(p.start.vmRssKiB)} → ${mib(p.end.vmRssKiB)} | ${growth.toFixed(1)} (${peak.toFixed(1)}) | ` +
        `${mib(p.start.rssAnonKiB)} → ${mib(p.end.rssAnonKiB)} | ${mib(p.end.rssFileKiB)} | ${mib(p.end.vmHwmKiB)} | ${rate} |`,
    );
  }
  out.push("", "Loads:", "");
  for (const p of m.phases) out.push(`- ${p.phase}, ${p.server}: \`${p.load}\``);
  out.push("");
  for (const path of m.plots) out.push(`![${plotBase(path)}](${plotBase(path)})`);
  out.push("");
  return out;
}

/** Our daemon's highest VmHWM in each scenario of the run that reports one. */
export function renderPeak(data: BenchData & { memoryLoad?: MemoryResult | null }): string[] {
  const peaks: [string, Memory | undefined | number][] = [
    ["peers (10,000 names cached, then misses)", data.memory.end.ours],
    ["cluster (10k Services / 50k endpoints indexed, after runs and burst)", data.cluster?.memory.afterBurst],
    ["memory (mixed, malformed, outage)", data.memoryLoad?.hwmKiB.ours],
  ];
  const rows = peaks
    .map(([name, m]) => [name, typeof m === "number" ? m : m?.vmHwmKiB] as const)
    .filter((r): r is readonly [string, number] => r[1] !== undefined && r[1] > 0);
  if (rows.length === 0) return [];
  const max = Math.max(...rows.map((r) => r[1]));
  return [
    "### Peak memory of our daemon over the whole bench",
    "",
    "| scenario | VmHWM MiB |",
    "|---|---:|",
    ...rows.map(([name, kib]) => `| ${name} | ${mib(kib)} |`),
    `| **whole bench** (target ≤ ${HWM_TARGET_MIB}) | **${mib(max)}** |`,
    "",
  ];
}

/** The cluster index held by -workers 1 and N: each process's memory and the API requests. */
export function renderWorkersIndex(runs: WorkersIndexResult[]): string[] {
  if (runs.length === 0) return [];
  const out = [
    "### The index with several workers (one API watch per node)",
    "",
    "Each run starts a daemon against the same fake API server (10,000 Services / 50,000 endpoints) and reads " +
      "each process's own /proc/PID/status 2 s after /ready turned 200. The primary runs the only watch and feeds the workers.",
    "",
    "| workers | process | RssAnon MiB | RssFile MiB | VmRSS MiB | VmHWM MiB |",
    "|---:|---|---:|---:|---:|---:|",
  ];
  for (const run of runs) {
    if (run.error !== undefined) out.push(`| ${run.workers} | FAILED: ${run.error} | | | | |`);
    for (const p of run.processes)
      out.push(
        `| ${run.workers} | ${p.role} | ${mib(p.memory.rssAnonKiB)} | ${mib(p.memory.rssFileKiB)} | ${mib(p.memory.vmRssKiB)} | ${mib(p.memory.vmHwmKiB)} |`,
      );
  }
  out.push("", "| workers | resource | list requests | watch requests |", "|---:|---|---:|---:|");
  for (const run of runs)
    for (const [path, n] of Object.entries(run.requests))
      out.push(`| ${run.workers} | ${path} | ${n.lists} | ${n.watches} |`);
  out.push("");
  return out;
}
