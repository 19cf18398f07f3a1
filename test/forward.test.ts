// Forwarder basics on loopback: real unbound as the upstream, hand-made UDP servers and the fake
// upstream for what unbound will not do (TC=1, wrong IDs, wrong sources, silence).

import assert from "node:assert/strict";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { after, before, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import type { ForwardConfig } from "../src/config/types.ts";
import { nameToWire } from "../src/dns/index.ts";
import { encodeFrame, type Forwarder, FrameReader } from "../src/forward/index.ts";
import { Policy } from "../src/forward/policy.ts";
import type { ClientProto, ForwardOutcome } from "../src/forward/types.ts";
import { forwardConfig, makeForwarder } from "./support/forward-fixtures.ts";
import {
  cleanupAll,
  encodeQuery,
  freePort,
  reply,
  soaRecord,
  startFakeUpstream,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

const config = forwardConfig;
const make = makeForwarder;

function ask(fwd: Forwarder, msg: Buffer, proto: ClientProto = "udp"): Promise<ForwardOutcome> {
  return new Promise((resolve) => fwd.query(msg, resolve, proto));
}

function decoded(outcome: ForwardOutcome) {
  assert.equal(outcome.kind, "reply", JSON.stringify(outcome));
  if (outcome.kind !== "reply") throw new Error("unreachable");
  return { raw: outcome.reply, packet: dnsPacket.decode(outcome.reply), upstream: outcome.upstream };
}

function addresses(packet: dnsPacket.DecodedPacket): string[] {
  return (packet.answers ?? [])
    .filter((a) => a.type === "A")
    .map((a) => String((a as { data?: unknown }).data));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A UDP server whose handler may send anything from its socket. */
async function rawUdp(host: string, handler: (msg: Buffer, rinfo: RemoteInfo, sock: Socket) => void) {
  const port = await freePort(host);
  const sock = createSocket("udp4");
  sock.on("message", (m, r) => handler(m, r, sock));
  await new Promise<void>((resolve) => sock.bind(port, host, () => resolve()));
  after(() => new Promise<void>((r) => sock.close(() => r())));
  return { host, port, sock };
}

function answerFor(msg: Buffer, ip: string, patch: (p: dnsPacket.Packet) => void = () => {}): Buffer {
  const q = dnsPacket.decode(msg);
  const p = reply(q, {
    answers: [{ name: q.questions![0]!.name, type: "A", ttl: 30, class: "IN", data: ip }],
  });
  patch(p);
  return dnsPacket.encode(p);
}

describe("frame reader", () => {
  test("splits coalesced frames and joins partial ones", () => {
    const a = encodeFrame(encodeQuery("a.test", "A", { id: 1 }), 0x1111);
    const b = encodeFrame(encodeQuery("bb.test", "AAAA", { id: 2 }), 0x2222);
    const all = Buffer.concat([a, b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const reader = new FrameReader();
      const got: number[] = [];
      reader.push(all.subarray(0, cut), (f) => got.push(f.readUInt16BE(0)));
      reader.push(all.subarray(cut), (f) => got.push(f.readUInt16BE(0)));
      assert.deepEqual(got, [0x1111, 0x2222], `cut at ${cut}`);
      assert.equal(reader.buffered, 0);
    }
    const reader = new FrameReader();
    const got: number[] = [];
    for (const byte of all) reader.push(Buffer.from([byte]), (f) => got.push(f.length));
    assert.deepEqual(got, [a.length - 2, b.length - 2]);
  });
});

describe("policy", () => {
  test("sequential keeps order, round_robin rotates, random permutes", () => {
    const items = ["a", "b", "c"];
    const seq = new Policy<string>("sequential");
    assert.deepEqual(seq.order(items), ["a", "b", "c"]);
    assert.deepEqual(seq.order(items), ["a", "b", "c"]);
    const rr = new Policy<string>("round_robin");
    assert.deepEqual(
      [rr.order(items), rr.order(items), rr.order(items), rr.order(items)],
      [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
      ],
    );
    const random = new Policy<string>("random");
    const firsts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const o = random.order(items);
      assert.deepEqual([...o].sort(), items);
      firsts.set(o[0]!, (firsts.get(o[0]!) ?? 0) + 1);
    }
    for (const x of items) assert.ok((firsts.get(x) ?? 0) > 50, `random rarely starts with ${x}`);
  });
});

describe("with unbound", () => {
  let unbound: Upstream;
  const names = Array.from({ length: 100 }, (_, i) => `svc${i}.ns.svc.cluster.local`);
  before(async () => {
    unbound = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("cluster.local", { ttl: 30, minimum: 5 }),
        ...names.map((n, i) => `${n}. 30 IN A 10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`),
      ],
    });
  });

  test("UDP answer: the client's ID and 0x20 spelling come back", async () => {
    const { fwd, observer } = make(config([unbound]));
    const msg = encodeQuery("SvC7.Ns.SVC.cluster.LOCAL", "A", { id: 4242, ednsUdpSize: 1232 });
    const r = decoded(await ask(fwd, msg));
    assert.equal(r.raw.readUInt16BE(0), 4242);
    assert.equal(r.packet.questions![0]!.name, "SvC7.Ns.SVC.cluster.LOCAL");
    assert.deepEqual(addresses(r.packet), ["10.0.0.8"]);
    assert.equal(r.upstream, `${unbound.host}:${unbound.port}`);
    assert.equal(fwd.inFlight, 0);
    assert.deepEqual(
      observer.results.map((x) => [x.to, x.proto, x.rcode]),
      [[r.upstream, "udp", "NOERROR"]],
    );
    const nx = decoded(await ask(fwd, encodeQuery("nope.cluster.local", "A")));
    assert.equal(nx.raw[3]! & 0x0f, 3, "NXDOMAIN");
  });

  test("100 queries pipelined over TCP use few connections", async () => {
    const { fwd, observer } = make(config([unbound], { forceTcp: true }));
    const outcomes = await Promise.all(
      names.map((n, i) => ask(fwd, encodeQuery(n, "A", { id: i + 1, ednsUdpSize: 1232 }))),
    );
    outcomes.forEach((o, i) => {
      const r = decoded(o);
      assert.equal(r.raw.readUInt16BE(0), i + 1);
      assert.deepEqual(addresses(r.packet), [`10.0.0.${i + 1}`]);
    });
    const state = fwd.upstreams()[0]!;
    assert.ok(state.tcpConnections >= 1 && state.tcpConnections <= 4, `${state.tcpConnections} connections`);
    assert.equal(state.tcpOutstanding, 0);
    assert.equal(observer.conns.get(unbound.address), state.tcpConnections);
    assert.ok(observer.results.every((x) => x.proto === "tcp" && x.rcode === "NOERROR"));
    // The pool is reused: a second burst opens nothing new.
    await Promise.all(names.slice(0, 50).map((n) => ask(fwd, encodeQuery(n, "A"))));
    assert.equal(fwd.upstreams()[0]!.tcpConnections, state.tcpConnections);
  });

  test("client over TCP -> upstream TCP; prefer_udp keeps UDP", async () => {
    const a = make(config([unbound]));
    decoded(await ask(a.fwd, encodeQuery(names[3]!, "A"), "tcp"));
    assert.equal(a.observer.results[0]!.proto, "tcp");
    const b = make(config([unbound], { preferUdp: true }));
    decoded(await ask(b.fwd, encodeQuery(names[3]!, "A"), "tcp"));
    assert.equal(b.observer.results[0]!.proto, "udp");
  });

  test("expire closes idle pooled connections", async () => {
    const { fwd, observer } = make(config([unbound], { forceTcp: true, expireMs: 300 }));
    decoded(await ask(fwd, encodeQuery(names[0]!, "A")));
    assert.equal(fwd.upstreams()[0]!.tcpConnections, 1);
    await sleep(150);
    decoded(await ask(fwd, encodeQuery(names[1]!, "A"))); // use keeps it alive
    assert.equal(fwd.upstreams()[0]!.tcpConnections, 1);
    // Closed 300 ms after its last use when idle; 10 s is the margin for a busy node.
    const deadline = Date.now() + 10_000;
    while (fwd.upstreams()[0]!.tcpConnections > 0 && Date.now() < deadline) await sleep(25);
    assert.equal(fwd.upstreams()[0]!.tcpConnections, 0);
    assert.equal(observer.conns.get(unbound.address), 0);
  });

  test("handles: FROM and except zones, any case", () => {
    const { fwd } = make(config([unbound], { from: "cluster.local.", except: ["skip.cluster.local."] }));
    assert.equal(fwd.handles(nameToWire("a.CLUSTER.local")), true);
    assert.equal(fwd.handles(nameToWire("cluster.local")), true);
    assert.equal(fwd.handles(nameToWire("x.Skip.cluster.local")), false);
    assert.equal(fwd.handles(nameToWire("skip.cluster.local")), false);
    assert.equal(fwd.handles(nameToWire("example.com")), false);
    const msg = encodeQuery("a.cluster.local", "A");
    assert.equal(fwd.handles(msg, 12, msg.length - 4), true);
  });
});

describe("with hand-made upstreams", () => {
  test("UDP TC=1 -> the same upstream over TCP", async () => {
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q, ctx) =>
        ctx.proto === "udp"
          ? reply(q, { tc: true })
          : reply(q, { answers: [{ name: q.questions![0]!.name, type: "A", data: "192.0.2.9" }] }),
    });
    const { fwd, observer } = make(config([fake]));
    const r = decoded(await ask(fwd, encodeQuery("big.test", "A", { id: 77 })));
    assert.equal(r.raw.readUInt16BE(0), 77);
    assert.equal(r.packet.flag_tc, false);
    assert.deepEqual(addresses(r.packet), ["192.0.2.9"]);
    assert.deepEqual(
      fake.queries.map((q) => q.proto),
      ["udp", "tcp"],
    );
    assert.deepEqual(
      observer.results.map((x) => x.proto),
      ["udp", "tcp"],
    );
  });

  test("UDP: wrong ID, wrong question, wrong source port or address are ignored", async () => {
    const host = uniqueLoopback();
    const stranger = createSocket("udp4");
    const strangerOtherAddr = createSocket("udp4");
    after(() => {
      stranger.close();
      strangerOtherAddr.close();
    });
    const server = await rawUdp(host, (msg, rinfo, sock) => {
      const id = msg.readUInt16BE(0);
      const send = (b: Buffer, from: Socket = sock) => from.send(b, rinfo.port, rinfo.address);
      send(answerFor(msg, "6.6.6.1", (p) => (p.id = (id + 1) & 0xffff)));
      send(answerFor(msg, "6.6.6.2", (p) => (p.questions![0]!.name = "other.test")));
      send(answerFor(msg, "6.6.6.3", (p) => (p.questions![0]!.type = "AAAA")));
      send(answerFor(msg, "6.6.6.4"), stranger);
      send(answerFor(msg, "6.6.6.5"), strangerOtherAddr);
      send(answerFor(msg, "6.6.6.6", (p) => (p.type = "query")));
      setTimeout(() => send(answerFor(msg, "192.0.2.1")), 50);
    });
    await new Promise<void>((r) => stranger.bind(0, host, () => r())); // same address, other port
    await new Promise<void>((r) => strangerOtherAddr.bind(server.port, uniqueLoopback(), () => r())); // same port
    const { fwd } = make(config([server]));
    for (let i = 0; i < 5; i++) {
      const r = decoded(await ask(fwd, encodeQuery(`Q${i}.test`, "A", { id: 1000 + i })));
      assert.deepEqual(addresses(r.packet), ["192.0.2.1"]);
      assert.equal(r.raw.readUInt16BE(0), 1000 + i);
    }
  });

  test("TCP: frames with an unknown ID or another question are ignored", async () => {
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q, ctx) => {
        const bad = (patch: (p: dnsPacket.Packet) => void) => {
          const b = answerFor(ctx.raw, "6.6.6.6", patch);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          ctx.socket!.write(Buffer.concat([len, b]));
        };
        bad((p) => (p.id = ((q.id ?? 0) + 1) & 0xffff));
        bad((p) => (p.questions![0]!.name = "other.test"));
        return dnsPacket.decode(answerFor(ctx.raw, "192.0.2.1"));
      },
    });
    const { fwd } = make(config([fake], { forceTcp: true }));
    const outcomes = await Promise.all([0, 1, 2].map((i) => ask(fwd, encodeQuery(`t${i}.test`, "A"))));
    for (const o of outcomes) assert.deepEqual(addresses(decoded(o).packet), ["192.0.2.1"]);
    assert.equal(fake.tcpConnections, 1);
  });

  test("every UDP query uses its own source port and a fresh random ID", async () => {
    const seen: { port: number; id: number }[] = [];
    const server = await rawUdp(uniqueLoopback(), (msg, rinfo, sock) => {
      seen.push({ port: rinfo.port, id: msg.readUInt16BE(0) });
      sock.send(answerFor(msg, "192.0.2.1"), rinfo.port, rinfo.address);
    });
    const { fwd } = make(config([server]));
    for (let i = 0; i < 20; i++) decoded(await ask(fwd, encodeQuery("same.test", "A", { id: 5 })));
    assert.ok(new Set(seen.map((s) => s.port)).size >= 18, "source ports repeat");
    assert.ok(new Set(seen.map((s) => s.id)).size >= 18, "upstream IDs repeat");
  });

  test("policies spread queries as configured", async () => {
    const fakes = await Promise.all([0, 1, 2].map(() => startFakeUpstream({ host: uniqueLoopback() })));
    const run = async (policy: ForwardConfig["policy"]) => {
      for (const f of fakes) f.reset();
      const { fwd } = make(config(fakes, { policy }));
      for (let i = 0; i < 30; i++) decoded(await ask(fwd, encodeQuery(`p${i}.test`, "A")));
      return fakes.map((f) => f.queries.length);
    };
    assert.deepEqual(await run("sequential"), [30, 0, 0]);
    assert.deepEqual(await run("round_robin"), [10, 10, 10]);
    const random = await run("random");
    assert.equal(
      random.reduce((a, b) => a + b),
      30,
    );
    assert.ok(
      random.every((n) => n > 0),
      `random: ${random}`,
    );
  });

  test("max_concurrent: over the limit -> refused", async () => {
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: async (q) => {
        await sleep(200);
        return reply(q);
      },
    });
    const { fwd, observer } = make(config([fake], { maxConcurrent: 2 }));
    const first = [ask(fwd, encodeQuery("a.test", "A")), ask(fwd, encodeQuery("b.test", "A"))];
    assert.equal(fwd.inFlight, 2);
    assert.deepEqual(await ask(fwd, encodeQuery("c.test", "A")), { kind: "refused" });
    assert.equal(observer.rejects, 1);
    for (const o of await Promise.all(first)) decoded(o);
    assert.equal(fwd.inFlight, 0);
    decoded(await ask(fwd, encodeQuery("d.test", "A")));
  });

  test("close() ends in-flight queries with failed; later queries fail at once", async () => {
    const fake = await startFakeUpstream({ host: uniqueLoopback(), handler: () => null });
    const udp = make(config([fake]));
    const tcp = make(config([fake], { forceTcp: true }));
    const pending = [ask(udp.fwd, encodeQuery("a.test", "A")), ask(tcp.fwd, encodeQuery("b.test", "A"))];
    await sleep(100);
    await Promise.all([udp.fwd.close(), tcp.fwd.close()]);
    for (const o of await Promise.all(pending)) assert.equal(o.kind, "failed");
    assert.equal(tcp.fwd.upstreams()[0]!.tcpConnections, 0);
    assert.equal((await ask(udp.fwd, encodeQuery("c.test", "A"))).kind, "failed");
  });

  test("an unreadable query fails without throwing", async () => {
    const { fwd } = make(config([{ host: "127.0.0.1", port: 9 }]));
    assert.equal((await ask(fwd, Buffer.from([1, 2, 3]))).kind, "failed");
    const noQuestion = Buffer.alloc(12);
    assert.equal((await ask(fwd, noQuestion)).kind, "failed");
    assert.equal(fwd.inFlight, 0);
  });
});
