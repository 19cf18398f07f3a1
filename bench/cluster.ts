// Scenario "cluster" (issue 4): our daemon indexing 10,000 Services / 50,000 endpoints from the fake
// API server. In-process answers (A, SRV) against cache hits on the same daemon, RSS with the index
// loaded, and a burst of EndpointSlice MODIFIED events applied while dnsperf runs at a fixed rate.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import { burst } from "./cluster-burst.ts";
import { loadFixture, serviceName, writeClusterQueries } from "./cluster-fixture.ts";
import { type WorkersIndexResult, workersIndex } from "./cluster-workers.ts";
import { hitBlock, type Ours, ourSpec } from "./daemons.ts";
import { ask } from "./dnsclient.ts";
import type { Percentiles } from "./dnsperf.ts";
import { type Memory, memory, startProc, stopProc } from "./procs.ts";
import { base, type Measured, measure, type Settings, warm } from "./scenarios.ts";
import { UPSTREAM } from "./setup.ts";

export interface ClusterOptions {
  rounds: number;
  burstEvents: number;
  burstQps: number;
  burstSeconds: number;
  /** Seconds into the fixed-rate run when the burst starts. */
  burstAt: number;
}

export interface Window {
  fromS: number;
  toS: number;
  answered: number;
  lost: number;
  lossPct: number;
  latency: Percentiles;
}

export interface ClusterResult {
  options: ClusterOptions;
  fixture: { namespaces: number; services: number; headless: number; slices: number; endpoints: number };
  loadMs: number;
  syncMs: number;
  syncLogged: boolean;
  corefile: string;
  argv: string[];
  checks: string[];
  rounds: { a: Measured; srv: Measured; hits: Measured }[];
  memory: { afterSync: Memory; afterRuns: Memory; afterBurst: Memory };
  watchMetrics: { afterSync: string[]; afterBurst: string[] };
  burst: {
    events: number;
    emitMs: number;
    appliedMs: number;
    eventsPerS: number;
    emitterEventsPerS: number;
    daemonCpuBusyPct: number;
    run: Measured;
    windows: { before: Window; during: Window; after: Window | null };
    /** The same per second of the run. */
    timeline: Window[];
    burstFromS: number;
    burstToS: number;
    sampleChecked: number;
    sampleWrong: number;
  } | null;
  /** The same index with -workers 1 and 3: memory per process, API requests (absent in older results). */
  workersIndex?: WorkersIndexResult[];
  error?: string;
}

const PORT = 10063;
const METRICS = "127.0.0.1:9263";
const READY = "127.0.0.1:8263";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readyStatus(): Promise<number> {
  try {
    return (await fetch(`http://${READY}/ready`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

async function watchMetrics(): Promise<string[]> {
  try {
    const text = await (
      await fetch(`http://${METRICS}/metrics`, { signal: AbortSignal.timeout(5000) })
    ).text();
    return text
      .split("\n")
      .filter((l) => /^coredns_kubernetes_watch_(objects|restarts_total|synced)/.test(l));
  } catch (error) {
    return [`(scrape failed: ${(error as Error).message})`];
  }
}

export async function clusterScenario(
  o: Ours,
  s: Settings,
  opts: ClusterOptions,
  hitsFile: string,
  log: (msg: string) => void,
): Promise<ClusterResult> {
  const api = new FakeKubeApi();
  await api.start("127.0.0.1", 0);
  const fixture = loadFixture(api);
  log(
    `cluster: fake API at ${api.url} loaded ${fixture.services} services, ${fixture.endpoints} endpoints in ${fixture.loadMs} ms`,
  );
  const files = writeClusterQueries(o.dir);
  const corefile = `${clusterBlock(api.url)}${hitBlock(PORT, METRICS)}`;
  const spec = ourSpec(o, {
    key: "cluster",
    label: "nodelocaldns + kubernetes",
    port: PORT,
    corefile,
    workers: 1,
    metrics: METRICS,
  });
  const logPath = join(o.dir, "cluster.log");
  const t0 = performance.now();
  const proc = startProc("cluster", spec.argv, logPath, s.serverCpu);
  const result: ClusterResult = {
    options: opts,
    fixture: {
      namespaces: fixture.namespaces,
      services: fixture.services,
      headless: fixture.headless,
      slices: fixture.slices,
      endpoints: fixture.endpoints,
    },
    loadMs: fixture.loadMs,
    syncMs: Number.NaN,
    syncLogged: false,
    corefile,
    argv: spec.argv,
    checks: [],
    rounds: [],
    memory: { afterSync: memory(proc.pid), afterRuns: memory(proc.pid), afterBurst: memory(proc.pid) },
    watchMetrics: { afterSync: [], afterBurst: [] },
    burst: null,
  };
  try {
    while ((await readyStatus()) !== 200) {
      if (proc.done) throw new Error(`daemon exited; log:\n${readFileSync(logPath, "utf8").slice(-2000)}`);
      if (performance.now() - t0 > 120_000) throw new Error("no /ready 200 within 120 s");
      await sleep(50);
    }
    result.syncMs = Math.round(performance.now() - t0);
    result.syncLogged = readFileSync(logPath, "utf8").includes("cluster index synced");
    result.memory.afterSync = memory(proc.pid);
    result.watchMetrics.afterSync = await watchMetrics();
    log(
      `cluster: /ready 200 after ${result.syncMs} ms (start + list + index); VmRSS ${result.memory.afterSync.vmRssKiB} KiB`,
    );
    result.checks = await checkAnswers();
    const bad = result.checks.filter((c) => c.startsWith("WRONG"));
    if (bad.length > 0) throw new Error(`cluster answers wrong:\n${bad.join("\n")}`);
    await warm(spec, s, hitsFile);
    // Untimed first passes, so JIT warm-up does not land in the first measured run.
    for (const file of [files.a, files.srv])
      await measure(spec, proc.pid, { ...base(spec, s, file), seconds: 2 });
    for (let r = 0; r < opts.rounds; r++) {
      const a = await measure(spec, proc.pid, base(spec, s, files.a));
      const srv = await measure(spec, proc.pid, base(spec, s, files.srv));
      await warm(spec, s, hitsFile);
      const hits = await measure(spec, proc.pid, base(spec, s, hitsFile));
      result.rounds.push({ a, srv, hits });
      const f = (m: Measured) => `${m.perf.qps.toFixed(0)} q/s ${m.cpuUsPerQuery.toFixed(1)} µs/q`;
      log(
        `cluster round ${r + 1}: A ${f(a)}; SRV ${f(srv)}; hits ${f(hits)} (${(a.cpuUsPerQuery / hits.cpuUsPerQuery).toFixed(2)}× hit CPU)`,
      );
    }
    result.memory.afterRuns = memory(proc.pid);
    result.burst = await burst(api, fixture, spec, proc.pid, s, opts, files.a, log);
    result.memory.afterBurst = memory(proc.pid);
    result.watchMetrics.afterBurst = await watchMetrics();
    await stopProc(proc);
    result.workersIndex = [];
    for (const n of [1, 3]) result.workersIndex.push(await workersIndex(api, o, s, n, log));
  } catch (error) {
    result.error = (error as Error).message;
    log(`cluster: FAILED: ${result.error}`);
  } finally {
    await stopProc(proc);
    await api.stop();
  }
  return result;
}

/** The cluster scenario's block: the cache asked first, then the index, misses to the bench upstream. */
export function clusterBlock(
  url: string,
  port = PORT,
  metrics = METRICS,
  ready: string | null = READY,
): string {
  return `cluster.local:${port} {
    bind 127.0.0.1
    cache {
        success 9984 30
        denial 9984 5
    }
    kubernetes cluster.local {
        endpoint ${url}
    }
    forward . ${UPSTREAM.host}:${UPSTREAM.port} {
        force_tcp
    }
    prometheus ${metrics}
${ready === null ? "" : `    ready ${ready}\n`}}
`;
}

/** A ClusterIP service, a headless one, and their SRV records, as the spec shapes them. */
async function checkAnswers(): Promise<string[]> {
  const out: string[] = [];
  const check = async (name: string, type: "A" | "SRV", want: (d: string[]) => boolean) => {
    const a = await ask("127.0.0.1", PORT, name, type);
    const ok = a !== null && a.rcode === "NOERROR" && a.aa && want(a.data);
    out.push(
      `${ok ? "ok" : "WRONG"} ${name} ${type}: ${a === null ? "no answer" : `${a.rcode} aa=${a.aa} [${a.data.join(", ")}] +${a.additional} additional`}`,
    );
  };
  await check(serviceName(1), "A", (d) => d.length === 1 && d[0] === "10.96.0.2");
  await check(serviceName(0), "A", (d) => d.length === 5);
  await check(`_http._tcp.${serviceName(1)}`, "SRV", (d) => d.length === 1);
  await check(`_http._tcp.${serviceName(5)}`, "SRV", (d) => d.length === 5);
  return out;
}
