// Cache bench (issue 12): allocation per query over N hits and N misses against a bare dgram echo
// server in the same run (V8's GC trace between heap marks), the hit ratio of 10,000 names cycled
// through the default capacity (9,984) by dnsperf, and memory with 10,000 names cached.
// Run inside a private network namespace (loopback only):
//   npm run build && unshare -rn bash -c 'ip link set lo up && node_modules/.bin/node bench/alloc.ts'
// Options: --queries N (10^6) --miss-queries N (10^6) --cycle-passes N (10) --only memory|cluster
//          --cluster-queries N (2 x 10^5 cluster A and as many SRV: allocation per in-process answer)
//          --warm-qps Q (warm the memory scenario at Q queries/s instead of full rate)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import {
  dnsperf,
  ECHO_SERVER,
  measureWindow,
  perQuery,
  shippedEnv,
  startTraced,
  tracedNodeFlags,
  type Window,
} from "./alloc-run.ts";
import { clusterBlock } from "./cluster.ts";
import { loadFixture, SERVICES, waitIndexSynced, writeClusterQueries } from "./cluster-fixture.ts";
import {
  hitName,
  SHIPPED_NODE_FLAGS,
  UPSTREAM,
  waitReady,
  writeHitQueries,
  writeMissQueries,
  writeUpstream,
} from "./setup.ts";

const root = resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const queries = opt("queries", 1_000_000);
const missQueries = opt("miss-queries", 1_000_000);
const cyclePasses = opt("cycle-passes", 10);
const warmQps = opt("warm-qps", 0);
const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1] : undefined;
const onlyMemory = only === "memory";
const clusterQueries = opt("cluster-queries", 200_000);
const HIT_NAMES = 9000; // all fit in the default capacity
const node = process.execPath;
const mainJs = process.env.NLD_MAIN_JS ?? join(root, "dist", "main.js"); // NLD_MAIN_JS: compare another build
const children: { kill(signal?: NodeJS.Signals): boolean }[] = [];

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) / 1024;
  }
  return out;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "gm"))].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
}

function daemon(
  work: string,
  key: string,
  port: number,
  cacheBody: string,
  traced: boolean,
  metrics: number,
) {
  const corefile = `.:${port} {
    bind 127.0.0.1
    cache 3600 {${cacheBody}}
    forward . ${UPSTREAM.host}:${UPSTREAM.port} {
        force_tcp
    }
    prometheus 127.0.0.1:${metrics}
}
`;
  const path = join(work, `Corefile-${key}`);
  writeFileSync(path, corefile);
  const flags = traced ? tracedNodeFlags() : SHIPPED_NODE_FLAGS;
  const proc = startTraced(node, [...flags, mainJs, "-conf", path], shippedEnv());
  children.push(proc.child);
  return { ...proc, host: "127.0.0.1", port, metricsUrl: `http://127.0.0.1:${metrics}/metrics` };
}

function row(label: string, w: Window): string {
  const p = perQuery(w);
  return `| ${label} | ${w.completed} | ${p.bytes.toFixed(0)} | ${w.scavenges} | ${w.markCompacts} | ${(w.promotedBytes / 1024).toFixed(0)} | ${(w.oldSpaceGrowth / 1024).toFixed(0)} |`;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "nld-alloc-"));
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  try {
    const upstream = startTraced("unbound", ["-d", "-c", writeUpstream(work)]);
    children.push(upstream.child);
    if (!(await waitReady(UPSTREAM.host, UPSTREAM.port, hitName(1), 15_000)))
      throw new Error("upstream did not start");
    const hitsFile = join(work, "hits9000.txt");
    writeFileSync(hitsFile, Array.from({ length: HIT_NAMES }, (_, i) => `${hitName(i + 1)} A\n`).join(""));

    if (only === "cluster") await clusterAllocation(work, log);
    else {
      if (!onlyMemory) await allocationAndCycle(work, hitsFile, log);
      await memoryWithNames(work, log);
    }
    upstream.child.kill("SIGTERM");
    const dir = join(root, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `alloc-${new Date().toISOString().replace(/[:.]/g, "-")}.md`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    process.stdout.write(`\nwritten: ${file}\n`);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  }
}

async function allocationAndCycle(work: string, hitsFile: string, log: (s: string) => void): Promise<void> {
  // 1. Allocation per query: hits and misses vs the echo server.
  const ours = daemon(work, "traced", 10053, "", true, 9253);
  const echo = startTraced(node, [...tracedNodeFlags(), "-e", ECHO_SERVER, "127.0.0.1", "10060"]);
  children.push(echo.child);
  if (!(await waitReady(ours.host, ours.port, hitName(1), 20_000)))
    throw new Error(`daemon: ${ours.output().slice(-2000)}`);
  const perf = (host: string, port: number, file: string, n: number, lines: number) => ({
    host,
    port,
    file,
    passes: Math.max(1, Math.round(n / lines)),
    maxSeconds: 600,
  });
  await measureWindow(ours, perf(ours.host, 10053, hitsFile, 2 * HIT_NAMES, HIT_NAMES));
  await measureWindow(echo, perf("127.0.0.1", 10060, hitsFile, 2 * HIT_NAMES, HIT_NAMES));
  const hits = await measureWindow(ours, perf(ours.host, 10053, hitsFile, queries, HIT_NAMES));
  const echoed = await measureWindow(echo, perf("127.0.0.1", 10060, hitsFile, queries, HIT_NAMES));
  const missFile = writeMissQueries(work, "alloc", missQueries);
  const misses = await measureWindow(ours, perf(ours.host, 10053, missFile, missQueries, missQueries));
  rmSync(missFile, { force: true });
  const memAfterMisses = status(ours.pid);
  ours.child.kill("SIGTERM");
  echo.child.kill("SIGTERM");
  log(`## Allocation per query (${new Date().toISOString()})\n`);
  log(
    "| server, queries | answered | bytes allocated / query | scavenges | mark-compacts | promoted KiB | old space growth KiB |",
  );
  log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  log(row(`nodelocaldns, cache hits (${HIT_NAMES} names)`, hits));
  log(row("bare dgram echo server", echoed));
  log(row("nodelocaldns, cache misses (unique names, TCP upstream)", misses));
  log(
    `\nhits / echo: ${(perQuery(hits).bytes / perQuery(echoed).bytes).toFixed(2)}x bytes, ${(hits.scavenges / Math.max(1, echoed.scavenges)).toFixed(2)}x scavenges; daemon after the misses: RssAnon ${memAfterMisses.RssAnon?.toFixed(1)} MiB, VmRSS ${memAfterMisses.VmRSS?.toFixed(1)} MiB, VmHWM ${memAfterMisses.VmHWM?.toFixed(1)} MiB`,
  );

  // 2. 10,000 names cycled through the default capacity (9,984), as dnsperf asks them.
  const cycle = daemon(work, "cycle", 10054, "", false, 9254);
  if (!(await waitReady(cycle.host, cycle.port, hitName(1), 20_000)))
    throw new Error("cycle daemon did not start");
  const names10k = writeHitQueries(work);
  await dnsperf({ host: cycle.host, port: cycle.port, file: names10k, passes: 2, maxSeconds: 120 });
  const h0 = await metric(cycle.metricsUrl, "coredns_cache_hits_total");
  const m0 = await metric(cycle.metricsUrl, "coredns_cache_misses_total");
  const run = await dnsperf({
    host: cycle.host,
    port: cycle.port,
    file: names10k,
    passes: cyclePasses,
    maxSeconds: 300,
  });
  const h1 = await metric(cycle.metricsUrl, "coredns_cache_hits_total");
  const m1 = await metric(cycle.metricsUrl, "coredns_cache_misses_total");
  const entries = await metric(cycle.metricsUrl, "coredns_cache_entries");
  const evictions = await metric(cycle.metricsUrl, "coredns_cache_evictions_total");
  log(`\n## 10,000 names cycled through the default capacity (dnsperf -n ${cyclePasses})\n`);
  log(
    `hit ratio ${((100 * (h1 - h0)) / (h1 - h0 + m1 - m0)).toFixed(2)} % (${h1 - h0} hits, ${m1 - m0} misses, ${run.completed} answered); entries ${entries}, evictions ${evictions}`,
  );
  cycle.child.kill("SIGTERM");
}

async function clusterAllocation(work: string, log: (s: string) => void): Promise<void> {
  // 4. Allocation per in-process cluster answer (10,000 Services / 50,000 endpoints indexed; the
  //    cluster scenario's block: the cache is asked first and misses, then the index answers).
  const api = new FakeKubeApi();
  await api.start("127.0.0.1", 0);
  try {
    loadFixture(api);
    const path = join(work, "Corefile-cluster");
    writeFileSync(path, clusterBlock(api.url, 10057, "127.0.0.1:9257", null));
    const ours = startTraced(node, [...tracedNodeFlags(), mainJs, "-conf", path], shippedEnv());
    children.push(ours.child);
    await waitIndexSynced("127.0.0.1", 10057, "cluster daemon").catch((error: Error) => {
      throw new Error(`${error.message}: ${ours.output().slice(-2000)}`);
    });
    const files = writeClusterQueries(work);
    const run = (file: string, n: number) => ({
      host: "127.0.0.1",
      port: 10057,
      file,
      passes: Math.max(1, Math.round(n / SERVICES)),
      maxSeconds: 600,
    });
    await measureWindow(ours, run(files.a, 2 * SERVICES));
    const a = await measureWindow(ours, run(files.a, clusterQueries));
    const srv = await measureWindow(ours, run(files.srv, clusterQueries));
    ours.child.kill("SIGTERM");
    log(`## Allocation per in-process cluster answer (${new Date().toISOString()})
`);
    log(
      "| server, queries | answered | bytes allocated / query | scavenges | mark-compacts | promoted KiB | old space growth KiB |",
    );
    log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    log(row(`nodelocaldns, cluster A (${SERVICES} services)`, a));
    log(row(`nodelocaldns, cluster SRV (${SERVICES} services)`, srv));
  } finally {
    await api.stop();
  }
}

async function memoryWithNames(work: string, log: (s: string) => void): Promise<void> {
  // 3. Memory with 10,000 names cached (shipped node flags, no tracing).
  const names10k = writeHitQueries(work);
  const full = daemon(work, "full", 10055, "\n        success 10000\n    ", false, 9255);
  if (!(await waitReady(full.host, full.port, hitName(1), 20_000)))
    throw new Error("memory daemon did not start");
  const idle = status(full.pid);
  const rate = warmQps > 0 ? { maxQps: warmQps } : {};
  await dnsperf({ host: full.host, port: full.port, file: names10k, passes: 3, maxSeconds: 120, ...rate });
  const cached = await metric(full.metricsUrl, "coredns_cache_entries");
  const mem = status(full.pid);
  // And once the load has stopped long enough for V8's memory reducer (it acts ~8 s after the
  // allocation rate drops): what a node serving little after a burst holds.
  await new Promise((r) => setTimeout(r, 20_000));
  const rest = status(full.pid);
  log(
    `\n## Memory, 10,000 names cached (${cached} entries; warmed ${warmQps > 0 ? `at ${warmQps} q/s` : "at full rate"})\n`,
  );
  log("| | RssAnon MiB | RssFile MiB | VmRSS MiB | VmHWM MiB |\n| --- | ---: | ---: | ---: | ---: |");
  for (const [label, m] of [
    ["idle", idle],
    ["10,000 names cached, right after the warm-up", mem],
    ["the same 20 s later, no load", rest],
  ] as const)
    log(
      `| ${label} | ${m.RssAnon?.toFixed(1)} | ${m.RssFile?.toFixed(1)} | ${m.VmRSS?.toFixed(1)} | ${m.VmHWM?.toFixed(1)} |`,
    );
  full.child.kill("SIGTERM");
}

main().catch((error: unknown) => {
  process.stderr.write(`alloc bench failed: ${(error as Error).stack ?? String(error)}\n`);
  for (const child of children) child.kill("SIGKILL");
  process.exitCode = 1;
});
