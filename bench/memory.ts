// Scenario "memory": how memory moves under load, ours and unbound in the same run, each sampled
// from /proc every 250 ms (VmRSS, RssAnon, RssFile, VmHWM) and drawn as a PNG per phase:
//   mixed     60 s at full rate, half the 10,000 cached names, half names never seen before;
//   malformed 10^6 malformed UDP datagrams;
//   outage    the upstream stopped (SIGSTOP: connections stay open, nothing answers) for 60 s
//             while 2,000 q/s of new names arrive, then resumed.
// Growth is VmRSS at the end of a phase minus at its start, and the peak minus the start.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runPerf } from "./dnsperf.ts";
import { sendMalformed } from "./malformed.ts";
import { plotMemory, type Series } from "./plot.ts";
import { type Memory, memory, type Proc, startProc, stopProc } from "./procs.ts";
import { type Settings, warm } from "./scenarios.ts";
import { hitName, MISS_ZONE, NAMES, type ServerSpec, waitReady } from "./setup.ts";

export interface MemoryOptions {
  mixedSeconds: number;
  malformedPackets: number;
  outageSeconds: number;
  outageQps: number;
  /** Which of "mixed", "malformed", "outage" run (all by default). */
  phases: string[];
  /** Where the PNGs go (bench/results/<stamp>-memory-<phase>.png). */
  plotPrefix: string;
}

export interface Sample {
  /** Seconds since the scenario started. */
  t: number;
  mem: Record<string, Memory>;
}

export interface PhaseResult {
  phase: string;
  server: string;
  startS: number;
  endS: number;
  start: Memory;
  end: Memory;
  peakRssKiB: number;
  /** What drove it: the dnsperf command or the packet count. */
  load: string;
  qps?: number;
  lossPct?: number;
}

export interface MemoryResult {
  options: Omit<MemoryOptions, "plotPrefix">;
  servers: string[];
  phases: PhaseResult[];
  plots: string[];
  /** Highest VmHWM of each server over the whole scenario. */
  hwmKiB: Record<string, number>;
  samples: Sample[];
}

const SAMPLE_MS = 250;

function interleaved(dir: string, tag: string, misses: number): string {
  const lines: string[] = [];
  for (let i = 0; i < misses; i++) lines.push(`${hitName((i % NAMES) + 1)} A`, `m${i}-${tag}.${MISS_ZONE} A`);
  const path = join(dir, `mixed-${tag}.txt`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function uniqueNames(dir: string, tag: string, count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`o${i}-${tag}.${MISS_ZONE} A`);
  const path = join(dir, `outage-${tag}.txt`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

export async function memoryScenario(
  servers: ServerSpec[],
  upstream: Proc,
  settings: Settings,
  options: MemoryOptions,
  hitsFile: string,
  work: string,
  log: (msg: string) => void,
): Promise<MemoryResult> {
  const chosen = servers.filter((s) => s.key === "ours" || s.key === "unbound");
  const procs: Proc[] = [];
  const pids: Record<string, number> = {};
  const samples: Sample[] = [];
  const phases: PhaseResult[] = [];
  const started = performance.now();
  const now = () => (performance.now() - started) / 1000;
  const read = () => Object.fromEntries(chosen.map((s) => [s.key, memory(pids[s.key]!)]));
  let sampler: NodeJS.Timeout | null = null;
  try {
    for (const server of chosen) {
      const proc = startProc(
        server.key,
        server.argv,
        join(work, `memory-${server.key}.log`),
        settings.serverCpu,
      );
      procs.push(proc);
      if (!(await waitReady(server.host, server.port, hitName(1), 15_000)))
        throw new Error(`${server.key} did not answer; see ${work}/memory-${server.key}.log`);
      pids[server.key] = proc.pid;
    }
    sampler = setInterval(() => samples.push({ t: now(), mem: read() }), SAMPLE_MS);
    for (const server of chosen) await warm(server, settings, hitsFile);
    log(`memory: ${chosen.map((s) => s.key).join(", ")} up and warmed`);

    const phase = async (name: string, server: ServerSpec, run: () => Promise<Partial<PhaseResult>>) => {
      const pid = pids[server.key]!;
      const start = memory(pid);
      const startS = now();
      const extra = await run();
      await new Promise((r) => setTimeout(r, 2000)); // what is left once the load stops
      const endS = now();
      const end = memory(pid);
      const inPhase = samples.filter((s) => s.t >= startS && s.t <= endS);
      const peakRssKiB = Math.max(end.vmRssKiB, ...inPhase.map((s) => s.mem[server.key]!.vmRssKiB));
      const result: PhaseResult = {
        phase: name,
        server: server.key,
        startS,
        endS,
        start,
        end,
        peakRssKiB,
        load: "",
        ...extra,
      };
      phases.push(result);
      log(
        `memory ${name} ${server.key}: VmRSS ${(start.vmRssKiB / 1024).toFixed(1)} -> ${(end.vmRssKiB / 1024).toFixed(1)} MiB ` +
          `(peak ${(peakRssKiB / 1024).toFixed(1)}), RssAnon ${(end.rssAnonKiB / 1024).toFixed(1)} MiB`,
      );
    };

    // Full rate: the mixed file is long enough that its miss names are not reused within the run.
    const mixedMisses = Math.max(200_000, options.mixedSeconds * 25_000);
    for (const server of options.phases.includes("mixed") ? chosen : []) {
      const file = interleaved(work, server.key, mixedMisses);
      await phase("mixed", server, async () => {
        const perf = await runPerf({
          host: server.host,
          port: server.port,
          file,
          seconds: options.mixedSeconds,
          clients: settings.clients,
          threads: settings.threads,
          outstanding: settings.outstanding,
          timeout: 2,
          cpu: settings.clientCpu,
          hardLimitS: options.mixedSeconds + 15,
        });
        return { load: perf.command, qps: perf.qps, lossPct: perf.lossPct };
      });
    }
    for (const server of options.phases.includes("malformed") ? chosen : []) {
      await phase("malformed", server, async () => {
        const seconds = await sendMalformed(server.host, server.port, options.malformedPackets);
        return {
          load: `${options.malformedPackets} malformed datagrams in ${seconds.toFixed(1)} s (bench/malformed.ts)`,
        };
      });
    }
    for (const server of options.phases.includes("outage") ? chosen : []) {
      const file = uniqueNames(work, server.key, options.outageSeconds * options.outageQps + 1000);
      await phase("outage", server, async () => {
        process.kill(upstream.pid, "SIGSTOP");
        try {
          const perf = await runPerf({
            host: server.host,
            port: server.port,
            file,
            seconds: options.outageSeconds,
            clients: settings.clients,
            threads: settings.threads,
            // Every query of the outage stays outstanding until the server gives up (its deadline,
            // a few seconds): room for all of them, and a client timeout beyond any deadline.
            outstanding: options.outageQps * 8,
            maxQps: options.outageQps,
            timeout: 8,
            cpu: settings.clientCpu,
            hardLimitS: options.outageSeconds + 20,
          });
          return { load: `upstream SIGSTOPped; ${perf.command}`, qps: perf.qps, lossPct: perf.lossPct };
        } finally {
          process.kill(upstream.pid, "SIGCONT");
        }
      });
      if (!(await waitReady(server.host, server.port, hitName(2), 15_000)))
        log(`${server.key} slow after outage`);
    }
  } finally {
    if (sampler !== null) clearInterval(sampler);
    for (const proc of procs.reverse()) await stopProc(proc, 3000);
  }
  const hwmKiB: Record<string, number> = {};
  for (const s of chosen) hwmKiB[s.key] = Math.max(0, ...samples.map((x) => x.mem[s.key]?.vmHwmKiB ?? 0));
  const plots = drawPlots(options.plotPrefix, samples, phases);
  const { plotPrefix: _p, ...rest } = options;
  return { options: rest, servers: chosen.map((s) => s.key), phases, plots, hwmKiB, samples };
}

const COLORS: Record<string, [number, number, number][]> = {
  ours: [
    [200, 30, 30],
    [235, 140, 0],
    [150, 150, 150],
  ],
  unbound: [
    [30, 60, 200],
    [40, 170, 200],
    [120, 120, 200],
  ],
};

/** One chart per phase name: both servers' VmRSS, RssAnon and RssFile over the phase's seconds. */
function drawPlots(prefix: string, samples: Sample[], phases: PhaseResult[]): string[] {
  const paths: string[] = [];
  for (const name of [...new Set(phases.map((p) => p.phase))]) {
    const series: Series[] = [];
    for (const p of phases.filter((x) => x.phase === name)) {
      const inPhase = samples.filter((s) => s.t >= p.startS && s.t <= p.endS);
      const pick = (f: (m: Memory) => number): [number, number][] =>
        inPhase.map((s) => [s.t - p.startS, f(s.mem[p.server]!) / 1024]);
      const [c1, c2, c3] = COLORS[p.server] ?? COLORS.ours!;
      series.push(
        { label: `${p.server} VmRSS`, points: pick((m) => m.vmRssKiB), color: c1! },
        { label: `${p.server} RssAnon`, points: pick((m) => m.rssAnonKiB), color: c2! },
        { label: `${p.server} RssFile`, points: pick((m) => m.rssFileKiB), color: c3! },
      );
    }
    const path = `${prefix}-${name}.png`;
    plotMemory(path, `memory during ${name}: MiB over seconds, each server in its own run`, series);
    paths.push(path);
  }
  return paths;
}
