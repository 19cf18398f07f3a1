// The forwarder reuses its per-query objects (tasks, exchanges, ID slots): a late upstream reply to
// a query that has already failed must not reach the query that reuses its objects, even with the
// same question. And the deadline list that replaced a wheel timer per exchange expires in order.

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import { TimerWheel } from "../src/clock/index.ts";
import { type Deadline, DeadlineList } from "../src/forward/deadlines.ts";
import { IdTable } from "../src/forward/idtable.ts";
import type { Forwarder } from "../src/forward/index.ts";
import type { ForwardOutcome } from "../src/forward/types.ts";
import { udpDeadlines, udpExchange } from "../src/forward/udp.ts";
import { forwardConfig, makeForwarder } from "./support/forward-fixtures.ts";
import { encodeQuery, freePort, reply } from "./support/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A TCP upstream that answers at once, except "same.test." queries, which it keeps for the test to answer. */
async function heldUpstream() {
  const host = "127.0.0.1";
  const port = await freePort(host);
  const held: { id: number; socket: Socket; query: dnsPacket.DecodedPacket }[] = [];
  const server = createServer((socket) => {
    let rest = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      let buf = Buffer.concat([rest, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const query = dnsPacket.decode(msg);
        if (query.questions?.[0]?.name !== "same.test") socket.write(frame(answer(query, "9.9.9.9")));
        else held.push({ id: msg.readUInt16BE(0), socket, query });
      }
      rest = buf;
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  after(() => new Promise<void>((r) => server.close(() => r())));
  return { host, port, held };
}

function answer(query: dnsPacket.DecodedPacket, ip: string): Buffer {
  const name = query.questions![0]!.name;
  return dnsPacket.encode(reply(query, { answers: [{ name, type: "A", ttl: 30, class: "IN", data: ip }] }));
}

function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

describe("forwarder object reuse", () => {
  test("a late reply to a failed query never reaches the query reusing its objects", async () => {
    const up = await heldUpstream();
    // One connection, so the later queries share it (and its ID table) with the late replies.
    const { fwd } = makeForwarder(forwardConfig([up], { forceTcp: true }), {
      attemptTimeoutMs: 150,
      deadlineMs: 150,
      maxConnections: 1,
    });
    try {
      await lateReplies(fwd, up);
    } finally {
      await fwd.close(); // the upstream's close waits for its connections
    }
  });
});

async function lateReplies(fwd: Forwarder, up: Awaited<ReturnType<typeof heldUpstream>>): Promise<void> {
  const N = 40;
  const ask = () =>
    new Promise<ForwardOutcome>((resolve) => fwd.query(encodeQuery("same.test", "A"), resolve));
  // First round: held until it fails. The ping's reply keeps the connection from looking stuck.
  const first = Array.from({ length: N }, ask);
  const ping = await new Promise<ForwardOutcome>((resolve) => fwd.query(encodeQuery("ping", "A"), resolve));
  assert.equal(ping.kind, "reply");
  for (const outcome of await Promise.all(first)) assert.equal(outcome.kind, "failed");
  await until("first round held", () => up.held.length === N);
  const stale = up.held.splice(0);
  // Second round, same question: the tasks, exchanges and ID slots of the first are reused.
  const second = Array.from({ length: N }, ask);
  await until("second round held", () => up.held.length === N);
  assert.equal(up.held[0]!.socket, stale[0]!.socket, "the same connection");
  // A second-round query drawn the same random ID as a stale one (about 2 % of runs: 40 x 40 of
  // 65,536) is the same question with the same ID on the same connection: no check can tell the
  // late reply from its own, so that one stale reply is not sent.
  const secondIds = new Set(up.held.map((h) => h.id));
  for (const s of stale)
    if (!secondIds.has(s.id)) s.socket.write(frame(answer({ ...s.query, id: s.id }, "6.6.6.6")));
  await sleep(50); // the late replies are read (and must be dropped) first
  for (const h of up.held) h.socket.write(frame(answer({ ...h.query, id: h.id }, "1.1.1.1")));
  const outs = await Promise.all(second);
  for (const outcome of outs) {
    assert.equal(outcome.kind, "reply");
    if (outcome.kind !== "reply") continue;
    const got = dnsPacket.decode(outcome.reply).answers!.map((a) => (a as { data: string }).data);
    assert.deepEqual(got, ["1.1.1.1"], "a late reply to the first round reached the second");
  }
}

describe("UDP exchange reuse", () => {
  // Node drops a closed socket's connect callback today, so this checks the whole cancel-and-reuse
  // path, not the `gen` check itself (that one guards a send completing after close, not timeable).
  test("an exchange cancelled before it connects leaves the one reusing its object alone", async () => {
    const host = "127.0.0.1";
    const port = await freePort(host);
    const server = createSocket("udp4");
    server.on("message", (m, r) => {
      m[2]! |= 0x80;
      server.send(m, r.port, r.address);
    });
    await new Promise<void>((r) => server.bind(port, host, () => r()));
    try {
      const wheel = new TimerWheel(Date.now, 10);
      const list = udpDeadlines(wheel, Date.now);
      const q = encodeQuery("reuse.test", "A");
      const heard: string[] = [];
      const sink = (name: string) => ({
        reply: (r: Buffer, token: number) => heard.push(`${name} reply ${r.readUInt16BE(0)} ${token}`),
        fail: (kind: string, reason: string, token: number) =>
          heard.push(`${name} ${kind} ${reason} ${token}`),
      });
      // Cancelled before its socket connects (that is reported on a later tick)...
      const a = udpExchange(host, port, q, q.length, 0x1111, 1000, list, Date.now(), sink("a"), 1);
      a.cancel();
      // ...and reused at once: nothing of the first socket may send or fail for it.
      const b = udpExchange(host, port, q, q.length, 0x2222, 1000, list, Date.now(), sink("b"), 2);
      assert.equal(b, a, "the exchange object is reused");
      await until("b's outcome", () => heard.length > 0);
      await sleep(30);
      assert.deepEqual(heard, [`b reply ${0x2222} 2`]);
    } finally {
      server.close();
    }
  });
});

describe("deadline list", () => {
  interface E extends Deadline {
    name: string;
  }

  function setup() {
    const clock = { now: 1000 };
    const wheel = new TimerWheel(() => clock.now, 10);
    const fired: string[] = [];
    const list = new DeadlineList<E>(
      wheel,
      () => clock.now,
      (e) => fired.push(e.name),
    );
    const entry = (name: string, deadline: number): E => ({
      name,
      deadline,
      prevDue: null,
      nextDue: null,
      ownTimer: null,
      onTimer() {
        list.fired(this);
      },
    });
    return { clock, wheel, fired, list, entry };
  }

  test("expires entries in deadline order whatever the order added; removed ones never", () => {
    const { clock, wheel, fired, list, entry } = setup();
    const [a, b, c, d] = [entry("a", 1100), entry("b", 1050), entry("c", 1200), entry("d", 1150)];
    for (const e of [a, b, c, d]) list.add(e);
    list.remove(d);
    list.remove(d); // twice: no effect
    clock.now = 1060;
    wheel.advance();
    assert.deepEqual(fired, ["b"]);
    clock.now = 1300;
    wheel.advance();
    wheel.advance();
    assert.deepEqual(fired, ["b", "a", "c"]);
    assert.equal(wheel.pending, 0);
  });

  test("an entry far behind the tail gets its own timer, and is cancelled by remove", () => {
    const { clock, wheel, fired, list, entry } = setup();
    for (let i = 0; i < 40; i++) list.add(entry(`n${i}`, 2000 + i));
    const early = entry("early", 1500);
    const gone = entry("gone", 1400);
    list.add(early);
    list.add(gone);
    assert.notEqual(early.ownTimer, null);
    list.remove(gone);
    assert.equal(gone.ownTimer, null);
    clock.now = 1600;
    wheel.advance();
    assert.deepEqual(fired, ["early"]);
    clock.now = 2100;
    wheel.advance();
    wheel.advance();
    assert.equal(fired.length, 41);
    assert.equal(wheel.pending, 0);
  });
});

describe("ID table", () => {
  test("finds an entry only by its own ID, not by another sharing its slot", () => {
    const table = new IdTable<{ id: number }>(4096);
    const e = { id: table.freeId() };
    table.add(e);
    assert.equal(table.get(e.id), e);
    assert.equal(table.get(e.id ^ 0x8000), null); // same low bits, another ID
    assert.equal(table.remove({ id: e.id }), false);
    assert.equal(table.remove(e), true);
    assert.equal(table.get(e.id), null);
  });
});
