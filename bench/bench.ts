// Bench orchestrator (run by bench/run.sh inside a private network namespace): starts the upstream and
// the three caching servers, runs the scenarios scenario-major (each scenario for every server back to
// back, so the noisy shared machine affects them alike), writes raw JSON and a Markdown summary.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type ClusterResult, clusterScenario } from "./cluster.ts";
import { type MemoryResult, memoryScenario } from "./memory.ts";
import { type PeersResult, peersScenario } from "./peers.ts";
import { killAllSync, type Proc, startProc, stopProc } from "./procs.ts";
import { profileRun } from "./profile.ts";
import { type BenchData, renderReport } from "./report.ts";
import { LOW_LOSS_PCT, type Settings } from "./scenarios.ts";
import {
  hitName,
  type ServerSpec,
  serverSpecs,
  UPSTREAM,
  waitReady,
  writeHitQueries,
  writeUpstream,
} from "./setup.ts";
import { heapScenario, metricsScenario, type VariantResult, workersScenario } from "./variants.ts";

const root = resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : dflt;
};

const settings: Settings = {
  hitSeconds: opt("seconds", 10),
  latencySeconds: opt("latency-seconds", 10),
  missSeconds: opt("miss-seconds", 10),
  missNames: opt("miss-names", 400_000),
  latencyQps: opt("latency-qps", 10_000),
  clients: opt("clients", 4),
  threads: opt("threads", 1),
  outstanding: opt("outstanding", 200),
  serverCpu: process.env.BENCH_SERVER_CPU ?? "0",
  clientCpu: process.env.BENCH_CLIENT_CPU ?? "1",
};
const rounds = opt("rounds", 2);
const only = argv.includes("--servers") ? argv[argv.indexOf("--servers") + 1]!.split(",") : null;
const SCENARIOS = ["peers", "cluster", "metrics", "workers", "heap", "memory"] as const;
const scenarios: string[] = argv.includes("--only")
  ? (argv[argv.indexOf("--only") + 1] ?? "").split(",")
  : [...SCENARIOS];
for (const name of scenarios) {
  if (!(SCENARIOS as readonly string[]).includes(name))
    throw new Error(`--only: unknown scenario "${name}" (known: ${SCENARIOS.join(", ")})`);
}
const clusterOptions = {
  rounds: opt("cluster-rounds", rounds),
  burstEvents: opt("burst-events", 50_000),
  burstQps: opt("burst-qps", 10_000),
  burstSeconds: opt("burst-seconds", 15),
  burstAt: 3,
};

function versionOf(cmd: string, args: string[], re: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return re.exec(out)?.[1] ?? out.split("\n")[0]!;
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? "");
    return re.exec(out)?.[1] ?? "unknown";
  }
}

function machine() {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    model: cpuList[0]?.model ?? "unknown",
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    node: process.version,
    unbound: versionOf("unbound", ["-V"], /Version (\S+)/),
    dnsmasq: versionOf("dnsmasq", ["--version"], /version (\S+)/),
    dnsperf: versionOf("dnsperf", ["-h"], /Version (\S+)/),
    loadavgStart: loadavg(),
    git: versionOf("git", ["-C", root, "rev-parse", "--short", "HEAD"], /(\S+)/),
    gitDirtyFiles: versionOf("git", ["-C", root, "status", "--porcelain"], /^([\s\S]*)$/)
      .split("\n")
      .filter((l) => l.trim() !== "").length,
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const resultsDir = join(root, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "nld-bench-"));
  const snapshot = join(resultsDir, `.dist-${process.pid}`);
  const procs: Proc[] = [];
  const cleanup = () => killAllSync();
  process.on("exit", cleanup);
  // run.sh's trap sends SIGTERM (through timeout(1)): kill the servers and remove the work dir.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      killAllSync();
      if (!flag("keep")) rmSync(work, { recursive: true, force: true });
      rmSync(snapshot, { recursive: true, force: true });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  const info = machine();
  const log = (msg: string) =>
    process.stdout.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${msg}\n`);
  try {
    // Snapshot dist/ so other builds during the run cannot change the daemon under test; it sits inside
    // the repository so node_modules still resolves.
    cpSync(join(root, "dist"), snapshot, { recursive: true });
    const mainJs = join(snapshot, "main.js");
    const servers = serverSpecs(work, process.execPath, mainJs).filter(
      (s) => only === null || only.includes(s.key),
    );
    const hitsFile = writeHitQueries(work);
    const upstream = startProc(
      "upstream",
      ["unbound", "-d", "-c", writeUpstream(work)],
      join(work, "upstream.log"),
      settings.clientCpu,
    );
    procs.push(upstream);
    if (!(await waitReady(UPSTREAM.host, UPSTREAM.port, hitName(1), 15_000)))
      throw new Error(`upstream did not start; see ${work}/upstream.log`);
    const ours = { dir: work, node: process.execPath, mainJs };
    let peers: PeersResult | null = null;
    if (scenarios.includes("peers"))
      peers = await peersScenario(servers, settings, rounds, hitsFile, work, log);
    let cluster: ClusterResult | null = null;
    if (scenarios.includes("cluster"))
      cluster = await clusterScenario(ours, settings, clusterOptions, hitsFile, log);
    let metricsCost: VariantResult | null = null;
    if (scenarios.includes("metrics"))
      metricsCost = await metricsScenario(ours, settings, opt("metrics-rounds", 3), hitsFile, log);
    let workers: VariantResult | null = null;
    if (scenarios.includes("workers")) {
      const all = cpus().length > 1 ? `0-${cpus().length - 1}` : "0";
      const wSettings = { ...settings, clients: opt("workers-clients", 16) };
      workers = await workersScenario(ours, wSettings, opt("workers-rounds", rounds), hitsFile, all, log);
    }
    let heap: VariantResult | null = null;
    if (scenarios.includes("heap")) {
      const qps = opt("heap-qps", 0);
      heap = await heapScenario(
        ours,
        settings,
        opt("heap-rounds", 4),
        hitsFile,
        log,
        qps > 0 ? qps : undefined,
      );
    }
    let memoryLoad: MemoryResult | null = null;
    if (scenarios.includes("memory")) {
      const memoryOptions = {
        mixedSeconds: opt("mixed-seconds", 60),
        malformedPackets: opt("malformed-packets", 1_000_000),
        outageSeconds: opt("outage-seconds", 60),
        outageQps: opt("outage-qps", 2000),
        phases: argv.includes("--memory-phases")
          ? (argv[argv.indexOf("--memory-phases") + 1] ?? "").split(",")
          : ["mixed", "malformed", "outage"],
        plotPrefix: join(resultsDir, `${stamp}-memory`),
      };
      memoryLoad = await memoryScenario(servers, upstream, settings, memoryOptions, hitsFile, work, log);
    }
    let profile = null;
    if (flag("profile")) {
      const spec = servers.find((s) => s.key === "ours");
      if (spec !== undefined) {
        profile = await profileRun(
          spec,
          settings,
          hitsFile,
          join(resultsDir, `${stamp}-cpuprofile`),
          join(work, "ours-prof.log"),
        );
        log(`profile written to ${profile.dir}`);
      }
    }
    const data: BenchData = {
      timestamp: started.toISOString(),
      durationS: (Date.now() - started.getTime()) / 1000,
      command: `bash bench/run.sh ${argv.join(" ")}`.trim(),
      machine: { ...info, loadavgEnd: loadavg() },
      pinning: { servers: `CPU ${settings.serverCpu}`, dnsperfAndUpstream: `CPU ${settings.clientCpu}` },
      settings,
      rounds,
      lowLossPct: LOW_LOSS_PCT,
      servers: (peers === null ? [] : servers).map((s: ServerSpec) => ({
        key: s.key,
        label: s.label,
        argv: s.argv,
        config: s.config,
        upstreamTransport: s.upstreamTransport,
      })),
      scenarios,
      memory: peers?.memory ?? { start: {}, afterWarm: {}, end: {} },
      results: peers?.results ?? [],
      profile,
      cluster,
      metricsCost,
      workers,
      heap,
      memoryLoad,
    };
    const jsonPath = join(resultsDir, `${stamp}.json`);
    writeFileSync(jsonPath, `${JSON.stringify(data, null, 2)}\n`);
    const md = renderReport(data);
    writeFileSync(join(resultsDir, `${stamp}.md`), md);
    process.stdout.write(`\n${md}\nraw: ${jsonPath}\n`);
  } finally {
    for (const proc of procs.reverse()) await stopProc(proc, 3000);
    rmSync(snapshot, { recursive: true, force: true });
    if (!flag("keep")) rmSync(work, { recursive: true, force: true });
    else if (existsSync(work)) process.stdout.write(`work dir kept: ${work}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
