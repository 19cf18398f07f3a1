// Bench orchestrator (run by bench/run.sh inside a private network namespace): starts the upstream and
// the three caching servers, runs the scenarios scenario-major (each scenario for every server back to
// back, so the noisy shared machine affects them alike), writes raw JSON and a Markdown summary.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { killAllSync, type Proc, startProc, stopProc } from "./procs.ts";
import { profileRun } from "./profile.ts";
import { type BenchData, type RoundResult, renderReport } from "./report.ts";
import { hits, LOW_LOSS_PCT, latency, misses, readMemory, type Settings, warm } from "./scenarios.ts";
import {
  hitName,
  type ServerSpec,
  serverSpecs,
  UPSTREAM,
  waitReady,
  writeHitQueries,
  writeMissQueries,
  writeUpstream,
} from "./setup.ts";

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
    const pids = new Map<string, number>();
    for (const server of servers) {
      const proc = startProc(server.key, server.argv, join(work, `${server.key}.log`), settings.serverCpu);
      procs.push(proc);
      if (!(await waitReady(server.host, server.port, hitName(1), 15_000))) {
        throw new Error(
          `${server.key} did not answer; log:\n${readFileSync(join(work, `${server.key}.log`), "utf8").slice(-2000)}`,
        );
      }
      pids.set(server.key, proc.pid);
      log(`${server.label} up (pid ${proc.pid}, CPU ${settings.serverCpu})`);
    }
    const memStart: Record<string, ReturnType<typeof readMemory>> = {};
    for (const server of servers) memStart[server.key] = readMemory(pids.get(server.key)!);
    const memAfterWarm: Record<string, ReturnType<typeof readMemory>> = {};
    for (const server of servers) {
      const w = await warm(server, settings, hitsFile);
      memAfterWarm[server.key] = readMemory(pids.get(server.key)!);
      log(
        `${server.key}: warmed ${w.completed} names in ${w.runTimeS.toFixed(2)} s; VmHWM ${memAfterWarm[server.key]!.vmHwmKiB} KiB`,
      );
    }
    const results: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const round: RoundResult = { hits: {}, latency: {}, miss: {} };
      for (const server of servers) {
        const m = await hits(server, pids.get(server.key)!, settings, hitsFile);
        round.hits[server.key] = m;
        log(
          `round ${r + 1} hits ${server.key}: ${m.perf.qps.toFixed(0)} q/s, loss ${m.perf.lossPct.toFixed(3)} %, ${m.cpuUsPerQuery.toFixed(1)} µs CPU/q`,
        );
      }
      for (const server of servers) {
        const m = await latency(server, pids.get(server.key)!, settings, hitsFile);
        round.latency[server.key] = m;
        const p = m.perf.percentiles!;
        log(
          `round ${r + 1} latency ${server.key}: p50 ${p.p50Ms.toFixed(3)} p99 ${p.p99Ms.toFixed(3)} max ${p.maxMs.toFixed(3)} ms, loss ${m.perf.lossPct.toFixed(3)} %`,
        );
      }
      for (const server of servers) {
        const tag = `${server.key}-r${r}`;
        const files = {
          max: writeMissQueries(work, tag, settings.missNames),
          lowLoss: () => writeMissQueries(work, `${tag}b`, settings.missNames),
        };
        const m = await misses(server, pids.get(server.key)!, settings, files);
        round.miss[server.key] = m;
        rmSync(join(work, `miss-${tag}.txt`), { force: true });
        rmSync(join(work, `miss-${tag}b.txt`), { force: true });
        const low =
          m.lowLoss === null
            ? ""
            : `; at ${m.lowLoss.perf.qps.toFixed(0)} q/s loss ${m.lowLoss.perf.lossPct.toFixed(3)} %`;
        log(
          `round ${r + 1} misses ${server.key} (${server.upstreamTransport}): ${m.max.perf.qps.toFixed(0)} q/s, loss ${m.max.perf.lossPct.toFixed(3)} %${low}`,
        );
      }
      results.push(round);
    }
    const memEnd: Record<string, ReturnType<typeof readMemory>> = {};
    for (const server of servers) memEnd[server.key] = readMemory(pids.get(server.key)!);
    for (const proc of procs.slice(1)) await stopProc(proc);
    let profile = null;
    if (flag("profile")) {
      const ours = servers.find((s) => s.key === "ours");
      if (ours !== undefined) {
        profile = await profileRun(
          ours,
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
      servers: servers.map((s: ServerSpec) => ({
        key: s.key,
        label: s.label,
        argv: s.argv,
        config: s.config,
        upstreamTransport: s.upstreamTransport,
      })),
      memory: { start: memStart, afterWarm: memAfterWarm, end: memEnd },
      results,
      profile,
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
