// Upstreams that fail the way real networks fail, each in a network namespace made here: no route
// (ENETUNREACH), iptables REJECT (ICMP host- and port-unreachable), an IPv6 upstream with IPv6
// disabled, TCP refused / reset / silent, UDP silent. Every one must end as a failed exchange: the
// client gets SERVFAIL (or a stale answer with serve_stale) within the deadline, the failure is
// counted and logged through `errors`, the upstream is marked failing, and the daemon lives on.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Netns } from "./fixtures/netif-runner.ts";
import {
  IP,
  logMessages,
  type NsDaemon,
  scopedNetns,
  startDaemonIn,
  startUnboundIn,
  until,
} from "./fixtures/netns-daemon.ts";
import { cleanupAll } from "./support/index.ts";
import { type Proc, spawnProc } from "./support/proc.ts";

const root = process.getuid?.() === 0;
const BAD_UPSTREAMS = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures", "bad-upstreams.ts");
const DEADLINE_MS = 5000;
/** The 100 ms the daemon owes, plus room for dig and a busy machine. */
const LATE_MS = 600;

interface Case {
  zone: string;
  upstream: string;
  tcp?: boolean;
  /** Fails at once (an error, not a timeout): well before the deadline. */
  fast: boolean;
}

const CASES: Case[] = [
  { zone: "noroute.test", upstream: "192.0.2.53", fast: true },
  { zone: "hostunreach.test", upstream: "127.0.0.20", fast: true },
  { zone: "portunreach.test", upstream: "127.0.0.21", fast: true },
  { zone: "nov6.test", upstream: "[fd00::53]:53", fast: true },
  { zone: "nov6loop.test", upstream: "[::1]:53", fast: true },
  { zone: "tcprefused.test", upstream: "127.0.0.22", tcp: true, fast: true },
  { zone: "tcpreset.test", upstream: "127.0.0.23", tcp: true, fast: true },
  { zone: "tcpnoroute.test", upstream: "192.0.2.54", tcp: true, fast: true },
  { zone: "tcpnov6.test", upstream: "[fd00::54]:53", tcp: true, fast: true },
  { zone: "tcpsilent.test", upstream: "127.0.0.24", tcp: true, fast: false },
  { zone: "udpsilent.test", upstream: "127.0.0.25", fast: false },
];

function corefile(): string {
  const blocks = CASES.map((c) =>
    [
      `${c.zone}:53 {`,
      "    bind 127.0.0.1",
      "    errors",
      `    forward . ${c.upstream}${c.tcp ? " {\n        force_tcp\n    }" : ""}`,
      "}",
    ].join("\n"),
  );
  blocks.push(`example.test:53 {
    bind 127.0.0.1
    errors
    cache {
        success 9984 1 1
        serve_stale 1h verify
    }
    forward . 127.0.0.2
}
.:53 {
    bind 127.0.0.1
    errors
    forward . 192.0.2.55
    prometheus 127.0.0.1:9153
}`);
  return `${blocks.join("\n")}\n`;
}

interface DigOutcome {
  status: string;
  ms: number;
  answer: string[];
}

async function digIn(ns: Netns, name: string, timeSec = 8): Promise<DigOutcome> {
  const res = await ns.exec("dig", [
    "@127.0.0.1",
    `+time=${timeSec}`,
    "+tries=1",
    "+noall",
    "+comments",
    "+answer",
    "+stats",
    name,
    "A",
  ]);
  const status = /status: (\S+),/.exec(res.stdout)?.[1] ?? `no reply (${res.stdout.trim()})`;
  const ms = Number(/Query time: (\d+) msec/.exec(res.stdout)?.[1] ?? Number.NaN);
  const answer = res.stdout
    .split("\n")
    .filter((l) => /\sIN\s+A\s/.test(l))
    .map((l) => l.trim().split(/\s+/).at(-1)!);
  return { status, ms, answer };
}

async function metric(ns: Netns, name: string, label: string): Promise<number> {
  const text = await ns.run("curl", ["-sf", "--max-time", "5", "http://127.0.0.1:9153/metrics"]);
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(`${name}{`) && line.includes(label)) sum += Number(line.split(" ").at(-1));
  return sum;
}

function upstreamKey(c: Case): string {
  if (c.upstream.startsWith("[")) return c.upstream;
  return `${c.upstream}:53`;
}

describe("failing upstreams end as failed exchanges, never as a dead daemon", {
  skip: !root && "needs root (network namespaces)",
}, () => {
  let ns: Netns;
  let daemon: NsDaemon;
  let bad: Proc;

  before(async () => {
    ns = await scopedNetns("nldns-fail");
    // IPv6 off in this namespace: an IPv6 upstream is what an IPv4-only node has.
    for (const key of ["all", "default", "lo"])
      await ns.run("sysctl", ["-qw", `net.ipv6.conf.${key}.disable_ipv6=1`]);
    const reject = (host: string, proto: string, how: string) =>
      ns.run("iptables", [
        "-A",
        "OUTPUT",
        "-d",
        host,
        "-p",
        proto,
        "--dport",
        "53",
        "-j",
        "REJECT",
        "--reject-with",
        how,
      ]);
    await reject("127.0.0.20", "udp", "icmp-host-unreachable");
    await reject("127.0.0.21", "udp", "icmp-port-unreachable");
    bad = spawnProc(
      IP,
      [
        "netns",
        "exec",
        ns.name,
        process.execPath,
        BAD_UPSTREAMS,
        "tcp-reset@127.0.0.23:53",
        "tcp-silent@127.0.0.24:53",
        "udp-silent@127.0.0.25:53",
      ],
      { label: "bad-upstreams" },
    );
    await bad.waitForLine(/"ready":true/, 10_000);
    await startUnboundIn(ns, "127.0.0.2", 53);
    daemon = await startDaemonIn(ns, { corefile: corefile(), args: [] });
  });

  after(cleanupAll);

  test("every kind of failure: SERVFAIL within the deadline, counted, logged, upstream marked failing", async () => {
    const outcomes = await Promise.all(CASES.map((c) => digIn(ns, `a.${c.zone}`)));
    const report = CASES.map((c, i) => `${c.zone}: ${outcomes[i]!.status} in ${outcomes[i]!.ms} ms`).join(
      "\n",
    );
    for (const [i, c] of CASES.entries()) {
      const o = outcomes[i]!;
      assert.equal(o.status, "SERVFAIL", `${c.zone}\n${report}\n${daemon.output()}`);
      const limit = c.fast ? 2000 : DEADLINE_MS + LATE_MS;
      assert.ok(o.ms <= limit, `${c.zone}: answered after ${o.ms} ms (limit ${limit})\n${report}`);
      if (!c.fast) assert.ok(o.ms >= DEADLINE_MS - 100, `${c.zone}: the deadline was used (${o.ms} ms)`);
    }
    assert.equal(daemon.isRunning(), true, daemon.output());
    for (const c of CASES) {
      const key = upstreamKey(c);
      const reason = c.fast ? 'reason="error"' : 'reason="timeout"';
      const failures = await metric(ns, "coredns_nodelocaldns_upstream_failures_total", `to="${key}"`);
      assert.ok(failures > 0, `${c.zone}: failures of ${key} counted`);
      assert.ok(
        (await metric(ns, "coredns_nodelocaldns_upstream_failures_total", `${reason}`)) > 0,
        `${c.zone}: ${reason}`,
      );
      await until(
        `health checks of ${key} failing`,
        async () => (await metric(ns, "coredns_proxy_healthcheck_failures_total", `to="${key}"`)) > 0,
        10_000,
      );
      const logged = logMessages(daemon, /^plugin\/forward: /).filter((m) => m.includes(key));
      assert.ok(logged.length > 0, `${c.zone}: logged through errors`);
    }
    const refusedLine = logMessages(daemon, /exchange failed: /);
    assert.ok(
      refusedLine.some((m) => /ENETUNREACH|ECONNREFUSED|EHOSTUNREACH/.test(m)),
      refusedLine.join("\n"),
    );
  });

  test("the loop probe's own UDP exchange survives a failed connect (no route, IPv6 off)", async () => {
    const probe = new URL("../src/loop/probe.ts", import.meta.url).href;
    const script = `import(${JSON.stringify(probe)}).then(async (m) => {
      const out = [await m.sendProbe("192.0.2.1", 53, "1.2.example.", 1000), await m.sendProbe("fd00::1", 53, "1.2.example.", 1000)];
      console.log(JSON.stringify(out));
    });`;
    const res = await ns.exec(process.execPath, ["-e", script]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), "[null,null]", "both probes end without an answer, the process alive");
  });

  test("many queries at once to an unreachable upstream: every one answered, the daemon alive", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `q${i}.noroute.test`);
    const outcomes = await Promise.all(names.map((n) => digIn(ns, n, 4)));
    for (const o of outcomes) assert.equal(o.status, "SERVFAIL");
    assert.equal(daemon.isRunning(), true, daemon.output());
  });

  test("serve_stale: an expired entry is served when the upstream starts rejecting", async () => {
    const fresh = await digIn(ns, "a.example.test");
    assert.deepEqual(fresh.answer, ["10.1.2.3"]);
    await ns.run("iptables", [
      "-I",
      "OUTPUT",
      "-d",
      "127.0.0.2",
      "-p",
      "udp",
      "--dport",
      "53",
      "-j",
      "REJECT",
      "--reject-with",
      "icmp-port-unreachable",
    ]);
    await new Promise((r) => setTimeout(r, 1600)); // the entry (1 s) expires
    const stale = await digIn(ns, "a.example.test");
    assert.equal(stale.status, "NOERROR");
    assert.deepEqual(stale.answer, ["10.1.2.3"], "the stale answer");
    assert.ok(stale.ms <= 2000, `stale served at once after the rejection (${stale.ms} ms)`);
    assert.equal(daemon.isRunning(), true);
  });
});
