// Runs dnsperf (pinned, hard time limit) and parses its summary and, with -v, per-query latencies.

import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { track } from "./procs.ts";

export interface PerfOptions {
  host: string;
  port: number;
  file: string;
  seconds: number;
  clients: number;
  threads: number;
  outstanding: number;
  /** -Q: fixed offered rate; omitted = as fast as the outstanding limit allows. */
  maxQps?: number;
  /** -n: passes through the file. */
  runs?: number;
  /** -t: per-query timeout in seconds (a query not answered in time counts as lost). */
  timeout: number;
  verbose?: boolean;
  /** With verbose: keep every per-query latency in receipt order (-1 for a timeout) in `series`. */
  series?: boolean;
  cpu: string | null;
  /** Wall-clock cap for this run instead of HARD_LIMIT_S (the 60 s memory scenarios). */
  hardLimitS?: number;
}

export interface Percentiles {
  n: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface PerfResult {
  command: string;
  sent: number;
  completed: number;
  lost: number;
  lossPct: number;
  runTimeS: number;
  qps: number;
  avgLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  stddevLatencyMs: number;
  rcodes: Record<string, number>;
  percentiles: Percentiles | null;
  wallS: number;
  /** performance.now() when dnsperf was spawned (to line `series` up with other events). */
  startedAtMs: number;
  /** Per-query latencies in ms in the order dnsperf printed them; -1 = timed out (printed `timeout` s late). */
  series?: number[];
}

/** Hard wall-clock cap per dnsperf run (the brief's 20 s), enforced with timeout(1). */
export const HARD_LIMIT_S = 20;

export function perfArgs(o: PerfOptions): string[] {
  const args = ["-s", o.host, "-p", String(o.port), "-d", o.file, "-l", String(o.seconds)];
  args.push(
    "-c",
    String(o.clients),
    "-T",
    String(o.threads),
    "-q",
    String(o.outstanding),
    "-t",
    String(o.timeout),
  );
  if (o.maxQps !== undefined) args.push("-Q", String(o.maxQps));
  if (o.runs !== undefined) args.push("-n", String(o.runs));
  if (o.verbose === true) args.push("-v");
  return args;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function parsePerf(
  stdout: string,
  command: string,
  wallS: number,
  wantPercentiles: boolean,
): PerfResult {
  const num = (re: RegExp): number => {
    const m = re.exec(stdout);
    if (m === null) throw new Error(`dnsperf output lacks ${re}: ${stdout.slice(-2000)}`);
    return Number(m[1]);
  };
  const rcodes: Record<string, number> = {};
  const codes = /Response codes:\s+(.*)/.exec(stdout)?.[1] ?? "";
  for (const m of codes.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(stdout);
  let percentiles: Percentiles | null = null;
  if (wantPercentiles) {
    const values: number[] = [];
    for (const m of stdout.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)) values.push(Number(m[1]) * 1000);
    percentiles = percentilesOf(values);
  }
  const sent = num(/Queries sent:\s+(\d+)/);
  const lost = num(/Queries lost:\s+(\d+)/);
  return {
    command,
    sent,
    completed: num(/Queries completed:\s+(\d+)/),
    lost,
    lossPct: sent > 0 ? (100 * lost) / sent : 0,
    runTimeS: num(/Run time \(s\):\s+([\d.]+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: lat === null ? Number.NaN : Number(lat[1]) * 1000,
    minLatencyMs: lat === null ? Number.NaN : Number(lat[2]) * 1000,
    maxLatencyMs: lat === null ? Number.NaN : Number(lat[3]) * 1000,
    stddevLatencyMs: Number(/Latency StdDev \(s\):\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN) * 1000,
    rcodes,
    percentiles,
    wallS,
    startedAtMs: 0,
  };
}

/** Per-query latencies (ms) in printed order, -1 for timeouts (`> T name type`). */
export function parseSeries(stdout: string): number[] {
  const out: number[] = [];
  for (const m of stdout.matchAll(/^> (\S+) \S+ \S+(?: ([\d.]+))?$/gm)) {
    out.push(m[1] === "T" ? -1 : Number(m[2]) * 1000);
  }
  return out;
}

/** Percentiles of a list of latencies in ms. */
export function percentilesOf(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Runs dnsperf to completion (killed by timeout(1) after HARD_LIMIT_S) and parses it. */
export async function runPerf(o: PerfOptions): Promise<PerfResult> {
  const limitS = o.hardLimitS ?? HARD_LIMIT_S;
  if (o.seconds + o.timeout + 1 > limitS) throw new Error(`dnsperf run would exceed ${limitS} s`);
  const args = perfArgs(o);
  const pin = o.cpu === null ? [] : ["taskset", "-c", o.cpu];
  const argv = ["timeout", "-k", "2", String(limitS), ...pin, "dnsperf", ...args];
  const command = [...pin, "dnsperf", ...args].join(" ");
  // stdout goes to a file, not a pipe: with -v dnsperf writes a line per query and a slow pipe reader
  // would stall it and inflate the latencies it measures.
  const outPath = `${o.file}.dnsperf-${process.pid}-${Date.now()}.out`;
  const fd = openSync(outPath, "w");
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", fd, "pipe"] });
  closeSync(fd);
  if (child.pid !== undefined) track(child.pid);
  const err: Buffer[] = [];
  child.stderr?.on("data", (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const wallS = (performance.now() - started) / 1000;
  const stdout = readFileSync(outPath, "utf8");
  rmSync(outPath, { force: true });
  if (code !== 0) {
    throw new Error(
      `dnsperf exited ${code}: ${Buffer.concat(err).toString("utf8").slice(-1000)}${stdout.slice(-500)}`,
    );
  }
  const result = parsePerf(stdout, command, wallS, o.verbose === true);
  result.startedAtMs = started;
  if (o.series === true) result.series = parseSeries(stdout);
  return result;
}
