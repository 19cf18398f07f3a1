// Zero lost queries when a new process takes over the same addresses (a maxSurge rolling update):
// the old one sees the successor answer its handoff probe, steps aside and drains.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  cleanupAll,
  defaultHandler,
  freePort,
  query,
  soaRecord,
  startDaemon,
  startFakeUpstream,
  startUnbound,
  uniqueLoopback,
} from "./support/index.ts";
import { startLoad } from "./support/load.ts";

after(cleanupAll);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a successor takes over under load: zero queries lost, the old one exits 0", async (t) => {
  // Misses take 50 ms upstream, so many are in flight at the moment of the handoff.
  const upstream = await startFakeUpstream({
    host: uniqueLoopback(),
    handler: async (q) => {
      const name = q.questions?.[0]?.name ?? "";
      if (name.startsWith("u")) await sleep(50);
      return defaultHandler(q, undefined as never);
    },
  });
  const host = uniqueLoopback();
  const port = await freePort(host);
  const metricsPort = await freePort(host);
  const corefile = `.:${port} {
    bind ${host}
    cache 30
    forward . ${upstream.host}:${upstream.port}
    prometheus ${host}:${metricsPort}
}
`;
  const server = { host, port };
  const old = await startDaemon({ corefile, readyProbe: server });
  // Cache hits, and every fourth query a miss (a unique NXDOMAIN name), from many source ports, at
  // up to 6,000/s. At most 512 unanswered at once: on a busy node the rate drops rather than the
  // kernel's queues overflowing, so a lost query is one the handoff lost. The load runs until the
  // successor has served alone for a second, however long a busy node takes to start it.
  const run = Date.now();
  const name = (i: number) => (i % 4 === 0 ? `u${i}-${run}.roll.test` : `n${i % 50}.roll.test`);
  const load = startLoad({ host, port, qps: 6000, durationMs: 60_000, maxInFlight: 512, sockets: 64, name });
  await sleep(1000);
  const successor = await startDaemon({ corefile });
  await successor.waitForLine(/serving/, 30_000);
  await sleep(500);
  const sentBeforeHandoff = load.sentSoFar();
  const stopped = old.stop("SIGTERM");
  const exit = await stopped;
  const sentAtExit = load.sentSoFar();
  await sleep(1000);
  load.stop();
  assert.equal(exit.code, 0, old.output().slice(-2000));
  assert.match(old.output(), /handing over/);
  const drained = /"answeredAfterStepAside":(\d+)/.exec(old.output());
  assert.ok(drained, "the old process reports its drain");
  t.diagnostic(`answered by the old process after stepping aside: ${drained[1]}`);
  const result = await load.done;
  t.diagnostic(
    `sent ${sentBeforeHandoff} before SIGTERM, ${sentAtExit} by the old one's exit, ${result.sent} in all`,
  );
  assert.ok(sentBeforeHandoff >= 3000, `under load before the handoff: ${sentBeforeHandoff} sent`);
  assert.ok(result.sent - sentAtExit >= 500, "under load after the old one left");
  assert.equal(result.lost, 0, `lost ${result.lost} of ${result.sent}: ${result.missing.join(" ")}`);
  assert.equal(result.rcodes.SERVFAIL ?? 0, 0);
  assert.ok(Number(drained[1]) > 0, "queries in flight at the handoff were answered after stepping aside");
  assert.ok(successor.isRunning());
});

test("without a successor, SIGTERM answers what is in flight and exits 0", async () => {
  const host = uniqueLoopback();
  const port = await freePort(host);
  const upstream = await startUnbound({
    host: uniqueLoopback(),
    records: [soaRecord("solo.test"), "a.solo.test. 60 IN A 192.0.2.1"],
  });
  const d = await startDaemon({
    corefile: `.:${port} {\n    bind ${host}\n    forward . ${upstream.host}:${upstream.port}\n}\n`,
    readyProbe: { host, port },
  });
  const started = Date.now();
  const exit = await d.stop("SIGTERM");
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - started < 3000, "no lameduck configured: prompt exit");
});

test("lameduck: after SIGTERM /health is red while DNS keeps answering, then the daemon exits", async () => {
  const host = uniqueLoopback();
  const port = await freePort(host);
  const healthPort = await freePort(host);
  const upstream = await startUnbound({
    host: uniqueLoopback(),
    records: [soaRecord("duck.test"), "a.duck.test. 60 IN A 192.0.2.7"],
  });
  const d = await startDaemon({
    corefile: `.:${port} {\n    bind ${host}\n    forward . ${upstream.host}:${upstream.port}\n    health ${host}:${healthPort} {\n        lameduck 2s\n    }\n}\n`,
    readyProbe: { host, port },
  });
  const health = `http://${host}:${healthPort}/health`;
  for (let i = 0; i < 40 && (await fetch(health)).status !== 200; i++) await sleep(100);
  assert.equal((await fetch(health)).status, 200);
  const started = Date.now();
  const exited = d.stop("SIGTERM");
  await sleep(500);
  assert.equal((await fetch(health)).status, 503, "unhealthy during lameduck");
  const during = await query({ host, port }, "a.duck.test");
  assert.equal(during.rcode, "NOERROR", "still answering during lameduck");
  const exit = await exited;
  assert.equal(exit.code, 0);
  const took = Date.now() - started;
  assert.ok(took >= 1900 && took < 6000, `exited after the 2 s lameduck (${took} ms)`);
});
