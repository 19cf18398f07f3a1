// Cache-hit CPU per query, interleaved: our build, another build (e.g. main's) and unbound run side
// by side and take turns under the same dnsperf load, round after round, so a busy shared machine
// affects all three alike; medians of the rounds are reported.
//   npm run build && unshare -rn bash -c 'ip link set lo up && node_modules/.bin/node bench/ab-hits.ts OTHER_DIST_MAIN_JS [--rounds N (6)] [--seconds S (4)] [--other-env "K=V ..."] [--other-flags "--flag ..."]'

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dnsperf } from "./alloc-run.ts";
import { cpuTime, killAllSync, startProc, stopProc } from "./procs.ts";
import {
  hitName,
  SHIPPED_ENV,
  SHIPPED_NODE_FLAGS,
  serverSpecs,
  UPSTREAM,
  waitReady,
  writeHitQueries,
  writeUpstream,
} from "./setup.ts";

const argv = process.argv.slice(2);
const other = argv[0];
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const rounds = opt("rounds", 6);
const text = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]!.split(" ").filter((s) => s !== "") : undefined;
};
// The other daemon's environment (e.g. "MALLOC_ARENA_MAX=2") and node flags, to compare settings of one build.
const otherEnv = text("other-env");
const otherFlags = text("other-flags");
const seconds = opt("seconds", 4);
const root = resolve(import.meta.dirname, "..");

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  if (other === undefined) throw new Error("usage: ab-hits.ts OTHER_DIST_MAIN_JS");
  const work = mkdtempSync(join(tmpdir(), "nld-ab-"));
  try {
    const upstream = startProc(
      "upstream",
      ["unbound", "-d", "-c", writeUpstream(work)],
      join(work, "up.log"),
      null,
    );
    if (!(await waitReady(UPSTREAM.host, UPSTREAM.port, hitName(1), 15_000))) throw new Error("upstream");
    const specs = serverSpecs(work, process.execPath, join(root, "dist", "main.js"));
    const ours = specs.find((s) => s.key === "ours")!;
    const peer = specs.find((s) => s.key === "unbound")!;
    const corefile = ours.config.replace(":10053", ":10063").replace("9253", "9263");
    writeFileSync(join(work, "Corefile-other"), corefile);
    const servers = [
      { key: "ours", port: 10053, argv: ours.argv },
      {
        key: "other",
        port: 10063,
        argv: [
          "env",
          ...(otherEnv ?? SHIPPED_ENV),
          process.execPath,
          ...(otherFlags ?? SHIPPED_NODE_FLAGS),
          other,
          "-conf",
          join(work, "Corefile-other"),
        ],
      },
      { key: "unbound", port: 10054, argv: peer.argv },
    ].map((s) => ({
      ...s,
      proc: startProc(s.key, s.argv, join(work, `${s.key}.log`), null),
      us: [] as number[],
    }));
    for (const s of servers)
      if (!(await waitReady("127.0.0.1", s.port, hitName(1), 20_000)))
        throw new Error(`${s.key} did not start`);
    const file = writeHitQueries(work);
    // The bench's Corefile caps TTLs at 30 s: warm right before each measured run.
    for (let r = 0; r < rounds; r++) {
      for (const s of servers) {
        await dnsperf({ host: "127.0.0.1", port: s.port, file, passes: 1, maxSeconds: 10 });
        const t0 = cpuTime(s.proc.pid);
        const run = await dnsperf({
          host: "127.0.0.1",
          port: s.port,
          file,
          passes: 1000,
          maxSeconds: seconds,
        });
        const t1 = cpuTime(s.proc.pid);
        s.us.push((t1.userUs + t1.sysUs - t0.userUs - t0.sysUs) / run.completed);
      }
      process.stdout.write(
        `round ${r + 1}: ${servers.map((s) => `${s.key} ${s.us.at(-1)!.toFixed(1)} µs/q`).join(", ")}\n`,
      );
    }
    const [a, b, u] = servers.map((s) => median(s.us));
    process.stdout.write(
      `\nmedian CPU per hit: ours ${a!.toFixed(2)} µs, other ${b!.toFixed(2)} µs, unbound ${u!.toFixed(2)} µs; ours/unbound ${(a! / u!).toFixed(2)}x, other/unbound ${(b! / u!).toFixed(2)}x\n`,
    );
    for (const s of servers) await stopProc(s.proc, 3000);
    await stopProc(upstream, 3000);
  } finally {
    killAllSync();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ab-hits failed: ${(error as Error).stack ?? String(error)}\n`);
  killAllSync();
  process.exitCode = 1;
});
