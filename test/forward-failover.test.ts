// Forwarder failure handling on loopback: dropped and stuck TCP connections, silent and dead
// upstreams, the 5 s deadline, health marking and recovery (real unbound stopped and restarted).

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import type { Forwarder } from "../src/forward/index.ts";
import type { ForwardOutcome } from "../src/forward/types.ts";
import { forwardConfig, makeForwarder } from "./support/forward-fixtures.ts";
import {
  cleanupAll,
  encodeQuery,
  freePort,
  reply,
  startFakeUpstream,
  startUnbound,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

const config = forwardConfig;
const make = makeForwarder;

function ask(fwd: Forwarder, name: string): Promise<ForwardOutcome & { ms: number }> {
  const t = Date.now();
  return new Promise((resolve) =>
    fwd.query(encodeQuery(name, "A"), (o) => resolve({ ...o, ms: Date.now() - t })),
  );
}

function answered(o: ForwardOutcome): dnsPacket.DecodedPacket {
  assert.equal(o.kind, "reply", JSON.stringify(o));
  if (o.kind !== "reply") throw new Error("unreachable");
  return dnsPacket.decode(o.reply);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms: number): Promise<number> {
  const t = Date.now();
  while (!ok()) {
    if (Date.now() - t > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - t;
}

describe("TCP connections failing", () => {
  test("a connection killed mid-flight: its queries are retried on another and answered", async () => {
    let first: Socket | undefined;
    let held = 0;
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q, ctx) => {
        first ??= ctx.socket;
        if (ctx.socket !== first) return reply(q);
        // The first connection swallows ten queries, then dies with half a reply on the wire.
        return ++held < 10 ? null : { partial: reply(q), bytes: 7 };
      },
    });
    const { fwd, observer } = make(config([fake], { forceTcp: true }));
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(fwd, `k${i}.test`)));
    for (const o of outcomes) {
      answered(o);
      assert.ok(o.ms < 1500, `took ${o.ms} ms`);
    }
    assert.ok(fake.tcpConnections >= 2);
    assert.equal(observer.count("error"), 10);
    assert.equal(observer.count("NOERROR"), 10);
  });

  test("a stuck connection: queries move to another within the deadline, new ones avoid it", async () => {
    let first: Socket | undefined;
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q, ctx) => {
        first ??= ctx.socket;
        return ctx.socket === first ? null : reply(q); // the first connection's peer is stuck
      },
    });
    const { fwd, observer } = make(config([fake], { forceTcp: true }));
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(fwd, `s${i}.test`)));
    for (const o of outcomes) {
      answered(o);
      assert.ok(o.ms >= 1900 && o.ms < 3000, `took ${o.ms} ms`);
    }
    assert.equal(observer.count("timeout"), 5);
    // The stuck connection takes no new queries and is closed once empty.
    const next = await ask(fwd, "after.test");
    answered(next);
    assert.ok(next.ms < 300, `took ${next.ms} ms`);
    await until("stuck connection closed", () => fake.openConnections() === 1, 1000);
    assert.equal(fwd.upstreams()[0]!.tcpConnections, 1);
  });

  test("one slow query does not hurt the other queries on its connection", async () => {
    let slowSeen = 0;
    let first: Socket | undefined;
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q, ctx) => {
        first ??= ctx.socket;
        return q.questions![0]!.name === "slow.test" && ++slowSeen === 1 ? null : reply(q);
      },
    });
    const { fwd } = make(config([fake], { forceTcp: true }), { attemptTimeoutMs: 500 });
    const slow = ask(fwd, "slow.test");
    const fast = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(fwd, `f${i}.test`)));
    const s = await slow;
    answered(s);
    // The slow one waited for its 500 ms attempt to time out, then was asked again; the fast ones on
    // the same connection did not wait for it (all answered before it, whatever the machine's load).
    assert.ok(s.ms >= 450 && s.ms < 5000, `slow took ${s.ms} ms`);
    for (const o of fast) {
      answered(o);
      assert.ok(o.ms < s.ms, `fast took ${o.ms} ms, the slow one ${s.ms} ms`);
    }
    assert.equal(slowSeen, 2);
    assert.equal(first?.destroyed, false, "the first connection stays open");
    assert.equal(fwd.upstreams()[0]!.tcpConnections, 2);
  });
});

describe("upstreams failing", () => {
  test("a silent upstream: the next one answers within the deadline; it is then marked down", async () => {
    const silent = await startFakeUpstream({ host: uniqueLoopback(), handler: () => null });
    const good = await startFakeUpstream({ host: uniqueLoopback() });
    const { fwd, observer } = make(config([silent, good], { healthCheckMs: 200 }), { probeTimeoutMs: 300 });
    const o = await ask(fwd, "x.test");
    answered(o);
    // After the silent one's 2 s attempt, within the 5 s deadline (busy-node margin above 2 s).
    assert.ok(o.ms >= 1900 && o.ms < 5000, `took ${o.ms} ms`);
    assert.equal(o.kind === "reply" && o.upstream, good.address);
    // Health checks every 200 ms (300 ms probe timeout): a few checks, with a busy node's margin.
    await until("silent marked down", () => fwd.upstreams()[0]!.healthy === false, 5000);
    assert.ok(observer.checkFailures.includes(silent.address));
    const quick = await ask(fwd, "y.test");
    answered(quick);
    // Straight to the good one: nowhere near the silent one's 2 s attempt timeout.
    assert.ok(quick.ms < 1500, `took ${quick.ms} ms`);
    assert.deepEqual(
      fwd.upstreams().map((u) => u.healthy),
      [false, true],
    );
  });

  test("all upstreams dead: refused at once -> failed fast; silent -> failed at the 5 s deadline", async () => {
    const closedA = { host: uniqueLoopback(), port: await freePort() };
    const closedB = { host: uniqueLoopback(), port: await freePort() };
    const refused = make(config([closedA, closedB]));
    const refusedTcp = make(config([closedA, closedB], { forceTcp: true }));
    for (const f of [refused, refusedTcp]) {
      const o = await ask(f.fwd, "dead.test");
      assert.equal(o.kind, "failed");
      // Refusals end it at once (milliseconds when idle): far from the 2 s attempt timeout.
      assert.ok(o.ms < 1500, `took ${o.ms} ms`);
    }
    const silentA = await startFakeUpstream({ host: uniqueLoopback(), handler: () => null });
    const silentB = await startFakeUpstream({ host: uniqueLoopback(), handler: () => null });
    const udp = make(config([silentA, silentB]));
    const tcp = make(config([silentA, silentB], { forceTcp: true }));
    const [u, t] = await Promise.all([ask(udp.fwd, "dead.test"), ask(tcp.fwd, "dead.test")]);
    for (const o of [u, t]) {
      assert.equal(o.kind, "failed");
      // Not before the deadline; after it only by what a busy node's event loop adds.
      assert.ok(o.ms >= 3900 && o.ms < 8000, `took ${o.ms} ms`);
    }
    assert.ok(udp.observer.count("timeout") >= 2);
    assert.ok(udp.fwd.upstreams().every((s) => !s.healthy));
  });

  test("an upstream back after being down is healthy again by its health checks alone", async () => {
    const unbound = await startUnbound({
      host: uniqueLoopback(),
      records: ["kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10"],
      zones: [{ name: "cluster.local.", type: "static" }],
    });
    const name = "kube-dns.kube-system.svc.cluster.local";
    const cfg = { healthCheckMs: 200 };
    const udp = make(config([unbound], cfg));
    const tcp = make(config([unbound], { ...cfg, forceTcp: true }));
    for (const f of [udp, tcp]) answered(await ask(f.fwd, name));
    await unbound.stop();
    for (const f of [udp, tcp]) {
      assert.equal((await ask(f.fwd, name)).kind, "failed");
      await until("marked down", () => f.fwd.upstreams()[0]!.healthy === false, 5000);
      assert.equal(f.fwd.allDown, true);
      // All down: still tried (CoreDNS), and reported.
      assert.equal((await ask(f.fwd, name)).kind, "failed");
      assert.ok(f.observer.allDown >= 1);
      assert.ok(f.observer.checkFailures.length >= 1);
    }
    await unbound.restart();
    for (const f of [udp, tcp]) {
      // Checks run every 200 ms: on an idle machine the first one after the restart (< 0.3 s);
      // 5 s is the margin for a busy node, still with no query asked in between.
      const ms = await until("healthy again", () => f.fwd.upstreams()[0]!.healthy, 5000);
      assert.ok(ms <= 5000);
      assert.equal(f.fwd.upstreams()[0]!.fails, 0);
      const o = answered(await ask(f.fwd, name));
      assert.equal((o.answers?.[0] as { data?: unknown } | undefined)?.data, "10.96.0.10");
    }
  });
});
