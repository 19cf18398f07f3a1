// The forwarder alone: what a forwarded query allocates, and what of it is promoted, by site.
// A child process answers every TCP query at once (the query with QR set); this process keeps
// --inflight queries outstanding through a Forwarder (force_tcp) and samples its heap allocations
// (V8's sampling heap profiler: once keeping everything, once only what survived scavenges).
// Run inside a private network namespace:
//   unshare -rn bash -c 'ip link set lo up && node_modules/.bin/node bench/forward-alloc.ts'
// Options: --queries N (100000) --inflight N (200) --sites N (15) --udp (UDP upstream, not TCP)

import { spawn } from "node:child_process";
import { Session } from "node:inspector/promises";
import { TimerWheel } from "../src/clock/index.ts";
import { FORWARD_DEFAULTS } from "../src/config/index.ts";
import { buildQuery, nameToWire, TYPE } from "../src/dns/index.ts";
import { Forwarder, type ForwardOutcome } from "../src/forward/index.ts";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const QUERIES = opt("queries", 100_000);
const INFLIGHT = opt("inflight", 200);
const SITES = opt("sites", 15);
const PORT = 10099;
const UDP = argv.includes("--udp");

// Replies in a separate process, so its allocations are not counted here.
const RESPONDER = `
const net = require("node:net");
net.createServer((s) => {
  let rest = Buffer.alloc(0);
  s.on("data", (d) => {
    let b = rest.length ? Buffer.concat([rest, d]) : d;
    let o = 0;
    while (o + 2 <= b.length) {
      const n = b.readUInt16BE(o);
      if (o + 2 + n > b.length) break;
      b[o + 4] |= 0x80;
      o += 2 + n;
    }
    if (o > 0) s.write(Buffer.from(b.subarray(0, o)));
    rest = b.subarray(o);
  });
}).listen(${PORT}, "127.0.0.1", () => process.stdout.write("ready\\n"));
const u = require("node:dgram").createSocket("udp4");
u.on("message", (m, r) => { m[2] |= 0x80; u.send(m, r.port, r.address); });
u.bind(${PORT}, "127.0.0.1");
`;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const observer = {
  upstreamResult() {},
  healthcheckFailure() {},
  allUpstreamsDown() {},
  maxConcurrentReject() {},
  tcpConnections() {},
};

async function run(fwd: Forwarder, n: number, names: Buffer[]): Promise<void> {
  let sent = 0;
  let done = 0;
  let failed = 0;
  await new Promise<void>((resolve) => {
    const cb = (outcome: ForwardOutcome) => {
      if (outcome.kind !== "reply") failed++;
      done++;
      if (sent < n) send();
      else if (done === n) resolve();
    };
    const send = () => {
      fwd.query(names[sent++ % names.length]!, cb, UDP ? "udp" : "tcp");
    };
    for (let i = 0; i < Math.min(INFLIGHT, n); i++) send();
  });
  if (failed > 0) throw new Error(`${failed} of ${n} queries failed`);
}

async function profile(session: Session, fwd: Forwarder, names: Buffer[], promotedOnly: boolean) {
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !promotedOnly,
  });
  await run(fwd, QUERIES, names);
  const { profile } = await session.post("HeapProfiler.stopSampling");
  const bySite = new Map<string, number>();
  const walk = (node: ProfileNode, stack: string[]) => {
    const f = node.callFrame;
    const here = `${f.functionName || "(anonymous)"} ${f.url.replace(/.*\/(src|bench)\//, "")}:${f.lineNumber + 1}`;
    const path = [...stack, here];
    if (node.selfSize > 0) {
      const site = path.slice(-3).join(" < ");
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, path);
  };
  walk((profile as unknown as { head: ProfileNode }).head, []);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\n${promotedOnly ? "promoted" : "allocated"}: ${(total / QUERIES).toFixed(0)} bytes/query (sampled)`,
  );
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, SITES))
    console.log(`${(bytes / QUERIES).toFixed(0).padStart(6)}  ${site}`);
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, ["-e", RESPONDER], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const wheel = new TimerWheel(Date.now, 25);
    const fwd = new Forwarder(
      {
        ...FORWARD_DEFAULTS,
        from: ".",
        to: [{ host: "127.0.0.1", port: PORT }],
        except: [],
        forceTcp: !UDP,
        line: 1,
      },
      { now: Date.now, wheel, observer, warn: () => {} },
    );
    const names = Array.from({ length: 1000 }, (_, i) =>
      buildQuery(i, nameToWire(`name-${i}.bench.example.`), TYPE.A),
    );
    await run(fwd, 20_000, names); // warm up: JIT, pools
    const session = new Session();
    session.connect();
    await session.post("HeapProfiler.enable");
    await profile(session, fwd, names, false);
    await profile(session, fwd, names, true);
    session.disconnect();
    await fwd.close();
  } finally {
    child.kill("SIGTERM");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
