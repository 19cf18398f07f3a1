// Two runtime settings of one build, interleaved: node flags and environment (glibc malloc
// tunables) of daemon A and daemon B, both holding the cluster index (10,000 Services / 50,000
// endpoints from the fake API server) and the cache-hit `.` block. Round after round each answers
// cache hits, cluster A and cluster SRV names in turn under the same dnsperf load, pinned to the same
// CPU, so a busy shared machine affects both alike; CPU per query is the medians of the rounds, and
// memory is read from /proc after the runs. This is how the shipped settings were chosen.
//   npm run build && unshare -rn bash -c 'ip link set lo up && node_modules/.bin/node bench/ab-runtime.ts
//     [--a-flags "--max-semi-space-size=8"] [--a-env ""] [--a-main OTHER_BUILD/dist/main.js]
//     [--b-flags SHIPPED] [--b-env SHIPPED]
//     [--rounds N (4)] [--seconds S (5)]'

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import { dnsperf } from "./alloc-run.ts";
import { loadFixture, waitIndexSynced, writeClusterQueries } from "./cluster-fixture.ts";
import { hitBlock } from "./daemons.ts";
import { cpuTime, killAllSync, memory, startProc, stopProc } from "./procs.ts";
import {
  hitName,
  SHIPPED_ENV,
  SHIPPED_NODE_FLAGS,
  UPSTREAM,
  waitReady,
  writeHitQueries,
  writeUpstream,
} from "./setup.ts";
import { indexBlock } from "./variants.ts";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const words = (name: string, dflt: readonly string[]): string[] => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? "").split(" ").filter((s) => s !== "") : [...dflt];
};
const rounds = opt("rounds", 4);
const seconds = opt("seconds", 5);
const root = resolve(import.meta.dirname, "..");
/** The settings shipped before issue 12's runtime change: the comparison's default baseline. */
const PREVIOUS_FLAGS = ["--max-semi-space-size=8"];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "nld-abrt-"));
  const api = new FakeKubeApi();
  try {
    await api.start("127.0.0.1", 0);
    loadFixture(api);
    const upstream = startProc(
      "upstream",
      ["unbound", "-d", "-c", writeUpstream(work)],
      join(work, "up.log"),
      "1",
    );
    if (!(await waitReady(UPSTREAM.host, UPSTREAM.port, hitName(1), 15_000))) throw new Error("upstream");
    const mainJs = join(root, "dist", "main.js");
    const daemons = [
      {
        key: "A",
        port: 10073,
        flags: words("a-flags", PREVIOUS_FLAGS),
        env: words("a-env", []),
        main: words("a-main", [mainJs])[0]!,
      },
      {
        key: "B",
        port: 10074,
        flags: words("b-flags", SHIPPED_NODE_FLAGS),
        env: words("b-env", SHIPPED_ENV),
        main: mainJs,
      },
    ].map((d) => {
      const path = join(work, `Corefile-${d.key}`);
      writeFileSync(path, `${indexBlock(d.port, api.url)}${hitBlock(d.port, null)}`);
      const cmd = ["env", ...d.env, process.execPath, ...d.flags, d.main, "-conf", path];
      return { ...d, cmd, proc: startProc(d.key, cmd, join(work, `${d.key}.log`), "0") };
    });
    for (const d of daemons) {
      if (!(await waitReady("127.0.0.1", d.port, hitName(1), 20_000)))
        throw new Error(`${d.key} did not start`);
      await waitIndexSynced("127.0.0.1", d.port, d.key);
    }
    const synced = daemons.map((d) => memory(d.proc.pid));
    const hits = writeHitQueries(work);
    const cluster = writeClusterQueries(work);
    const loads = [
      { key: "cache hits", file: hits },
      { key: "cluster A", file: cluster.a },
      { key: "cluster SRV", file: cluster.srv },
    ];
    const us = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? daemons : [...daemons].reverse();
      for (const load of loads)
        for (const d of order) {
          const perf = { host: "127.0.0.1", port: d.port, cpu: "1" };
          // The `.` block caps TTLs at 30 s: warm right before each measured hit run.
          if (load.file === hits) await dnsperf({ ...perf, file: hits, passes: 1, maxSeconds: 10 });
          const t0 = cpuTime(d.proc.pid);
          const run = await dnsperf({ ...perf, file: load.file, passes: 1000, maxSeconds: seconds });
          const t1 = cpuTime(d.proc.pid);
          const k = `${load.key} ${d.key}`;
          us.set(k, [...(us.get(k) ?? []), (t1.userUs + t1.sysUs - t0.userUs - t0.sysUs) / run.completed]);
          process.stdout.write(`round ${r + 1} ${k}: ${us.get(k)!.at(-1)!.toFixed(2)} µs/q\n`);
        }
    }
    const mib = (kib: number) => (kib / 1024).toFixed(1);
    const out = [
      "",
      ...daemons.map(
        (d) => `${d.key}: env ${d.env.join(" ") || "(none)"} node ${d.flags.join(" ")} ${d.main}`,
      ),
      "",
      "| CPU µs/query (median) | A | B | B ÷ A |",
      "| --- | ---: | ---: | ---: |",
    ];
    for (const load of loads) {
      const a = median(us.get(`${load.key} A`)!);
      const b = median(us.get(`${load.key} B`)!);
      out.push(`| ${load.key} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b / a).toFixed(2)} |`);
    }
    out.push("", "| memory MiB | RssAnon | RssFile | VmRSS | VmHWM |", "| --- | ---: | ---: | ---: | ---: |");
    daemons.forEach((d, i) => {
      for (const [when, m] of [
        ["index synced", synced[i]!],
        ["after the runs", memory(d.proc.pid)],
      ] as const)
        out.push(
          `| ${d.key}, ${when} | ${mib(m.rssAnonKiB)} | ${mib(m.rssFileKiB)} | ${mib(m.vmRssKiB)} | ${mib(m.vmHwmKiB)} |`,
        );
    });
    process.stdout.write(`${out.join("\n")}\n`);
    for (const d of daemons) await stopProc(d.proc, 3000);
    await stopProc(upstream, 3000);
  } finally {
    await api.stop();
    killAllSync();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ab-runtime failed: ${(error as Error).stack ?? String(error)}\n`);
  killAllSync();
  process.exitCode = 1;
});
