// /health follows the real query path. The self-probe unit: K probes per round from fresh sockets
// spread over several processes sharing a port (SO_REUSEPORT), so one wedged sharer fails rounds.
// The real daemon: /health green; its DNS UDP sockets stop being read (test hook, SIGUSR2) while
// HTTP and TCP still answer; /health turns red within staleAfter + margin and green after resume.

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { after, before, describe, test } from "node:test";
import { SelfProbe } from "../src/health/index.ts";
import {
  cleanupAll,
  type Daemon,
  freePort,
  onCleanup,
  QueryTimeoutError,
  query,
  startDaemon,
  uniqueLoopback,
} from "./support/index.ts";

/** The daemon's defaults (src/daemon): a round every second, red after 5 s without a passed round. */
const INTERVAL_MS = 1000;
const STALE_AFTER_MS = 5000;
const ROUND_TIMEOUT_MS = 1000;

/** A UDP socket on host:port (shared with SO_REUSEPORT) answering every query with NOERROR, until muted. */
async function responder(host: string, port: number): Promise<{ mute(on: boolean): void; count(): number }> {
  const socket = dgram.createSocket({ type: "udp4", reusePort: true });
  let muted = false;
  let seen = 0;
  socket.on("message", (msg, rinfo) => {
    seen++;
    if (muted || msg.length < 12) return;
    const reply = Buffer.from(msg);
    reply[2] = reply[2]! | 0x80;
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind({ address: host, port }, resolve));
  onCleanup(() => new Promise<void>((r) => socket.close(() => r())));
  return {
    mute(on) {
      muted = on;
    },
    count: () => seen,
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  assert.fail(`${what}: not within ${timeoutMs} ms`);
}

describe("SelfProbe rounds over processes sharing a port", () => {
  after(cleanupAll);

  test("healthy only while every probe of a recent round is answered, whichever sharer gets it", async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const a = await responder(host, port);
    const b = await responder(host, port);
    const rounds: boolean[] = [];
    const probe = new SelfProbe({
      now: Date.now,
      intervalMs: 100,
      staleAfterMs: 400,
      timeoutMs: 80,
      probesPerRound: 16,
      onRound: (passed) => rounds.push(passed),
    });
    probe.setTargets([{ host, port }]);
    assert.equal(probe.healthy(), false, "not before a round passed");
    probe.start();
    try {
      await until("green", () => probe.healthy(), 2000, 20);
      // Fresh source ports spread the probes over both sharers.
      await until("both sharers probed", () => a.count() > 0 && b.count() > 0, 2000, 20);
      // One sharer stops answering: with 16 probes a round misses it with probability 2^-16.
      b.mute(true);
      const mutedAt = Date.now();
      await until("red", () => !probe.healthy(), 2000, 20);
      const redAfter = Date.now() - mutedAt;
      assert.ok(redAfter >= 250, `red only once the last passed round is stale (${redAfter} ms)`);
      const failedFrom = rounds.length;
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(
        rounds.slice(failedFrom).every((p) => !p),
        `rounds fail while one sharer is mute: ${rounds}`,
      );
      assert.equal(probe.healthy(), false);
      b.mute(false);
      await until("green again", () => probe.healthy(), 1000, 20);
      assert.ok(probe.stats.failed > 0 && probe.stats.passed > 0);
    } finally {
      probe.stop();
    }
    assert.equal(probe.healthy(), false, "a stopped probe is not healthy");
  });
});

describe("/health of the real daemon when its DNS socket stops being read", () => {
  let daemon: Daemon;
  let addr: string;
  let port: number;
  let healthUrl: string;

  before(async () => {
    addr = uniqueLoopback();
    port = await freePort(addr);
    const healthPort = await freePort(addr);
    healthUrl = `http://${addr}:${healthPort}/health`;
    const corefile = `health.test:${port} {
    bind ${addr}
    health ${addr}:${healthPort}
}
`;
    daemon = await startDaemon({
      corefile,
      env: { NODELOCALDNS_TEST_HOOKS: "1" },
      readyProbe: { host: addr, port },
    });
  });

  after(async () => {
    await daemon?.stop();
    await cleanupAll();
  });

  const status = async () => (await fetch(healthUrl, { signal: AbortSignal.timeout(2000) })).status;

  test("green while serving, red within staleAfter + margin of the UDP socket wedging, green after", async () => {
    await until("/health 200", async () => (await status()) === 200, 5000);
    assert.equal((await query({ host: addr, port }, "a.health.test", "A")).rcode, "SERVFAIL");

    const from = daemon.lines().length;
    process.kill(daemon.pid, "SIGUSR2");
    await daemon.waitForLine(/test hook: UDP reading paused/, 3000, from);
    const pausedAt = Date.now();
    const line = JSON.parse(
      daemon
        .lines()
        .slice(from)
        .find((l) => l.includes("UDP reading paused"))!,
    );
    assert.equal(line.sockets, 1);
    assert.equal(line.mode, "recvStop");
    // Wedged: UDP queries go unanswered; the process itself (TCP, HTTP) still answers.
    await assert.rejects(
      query({ host: addr, port }, "b.health.test", "A", { timeoutMs: 500 }),
      QueryTimeoutError,
    );
    assert.equal(
      (await query({ host: addr, port }, "c.health.test", "A", { proto: "tcp" })).rcode,
      "SERVFAIL",
    );

    const margin = 2000;
    await until(
      "/health 503",
      async () => (await status()) === 503,
      STALE_AFTER_MS + INTERVAL_MS + ROUND_TIMEOUT_MS + margin,
    );
    const redAfter = Date.now() - pausedAt;
    assert.ok(
      redAfter >= STALE_AFTER_MS - INTERVAL_MS - ROUND_TIMEOUT_MS,
      `not red before the last pass is stale (${redAfter} ms)`,
    );
    const body = await (await fetch(healthUrl)).text();
    assert.notEqual(body, "OK");

    const resumeFrom = daemon.lines().length;
    process.kill(daemon.pid, "SIGUSR2");
    await daemon.waitForLine(/test hook: UDP reading resumed/, 3000, resumeFrom);
    await until(
      "/health 200 again",
      async () => (await status()) === 200,
      INTERVAL_MS + ROUND_TIMEOUT_MS + margin,
    );
    assert.equal((await query({ host: addr, port }, "d.health.test", "A")).rcode, "SERVFAIL");
    assert.ok(daemon.isRunning());
  });

  test("the hook exists only with NODELOCALDNS_TEST_HOOKS=1", async () => {
    assert.ok(daemon.lines().some((l) => l.includes("test hooks installed")));
    const plainAddr = uniqueLoopback();
    const plainPort = await freePort(plainAddr);
    const plain = await startDaemon({
      corefile: `health.test:${plainPort} {\n    bind ${plainAddr}\n}\n`,
      env: { NODELOCALDNS_TEST_HOOKS: "" },
      readyProbe: { host: plainAddr, port: plainPort },
    });
    try {
      assert.ok(!plain.lines().some((l) => l.includes("test hook")), plain.output());
    } finally {
      await plain.stop();
    }
  });
});
