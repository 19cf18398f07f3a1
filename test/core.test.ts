// The daemon's core against real unbound as upstream and dig / a Node client: cache semantics,
// truncation, coalescing, pipelining, upstream failure, and junk input.

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  type Daemon,
  dig,
  encodeQuery,
  freePort,
  largeTxtRecords,
  query,
  soaRecord,
  startDaemon,
  startUnbound,
  tcpPipeline,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("caching forwarder against unbound", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let server: { host: string; port: number };
  let metricsUrl: string;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 20 }),
        "www.example.test. 300 IN A 192.0.2.1",
        "short.example.test. 60 IN A 192.0.2.2",
        "coalesce.example.test. 300 IN A 192.0.2.3",
        ...largeTxtRecords("big.example.test", 4096),
        ...Array.from({ length: 100 }, (_, i) => `p${i}.example.test. 300 IN A 192.0.2.${i + 10}`),
      ],
    });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    metricsUrl = `http://${host}:${await freePort(host)}/metrics`;
    daemon = await startDaemon({
      corefile: `example.test:${server.port} {
    bind ${host}
    cache 3600 {
        denial 9984 1800
    }
    forward . ${upstream.host}:${upstream.port} {
        force_tcp
    }
    prometheus ${new URL(metricsUrl).host}
}
.:${server.port} {
    bind ${host}
    cache 30
    forward . ${upstream.host}:${upstream.port}
}
`,
      readyProbe: server,
    });
  });

  after(cleanupAll);

  test("TTLs count down on hits; the client's ID and spelling come back; case shares one entry", async () => {
    await upstream.clearQueryLog();
    const first = await query(server, "WwW.ExAmPlE.test", "A", { id: 4321 });
    assert.equal(first.packet.id, 4321);
    assert.equal(first.packet.questions![0]!.name, "WwW.ExAmPlE.test");
    assert.equal(first.rcode, "NOERROR");
    await sleep(2100);
    const second = await query(server, "www.example.test", "A", { id: 999 });
    assert.equal(second.packet.id, 999);
    assert.equal(second.packet.questions![0]!.name, "www.example.test");
    const ttl = (second.packet.answers![0] as { ttl: number }).ttl;
    assert.ok(ttl <= 298 && ttl >= 296, `TTL counted down: ${ttl}`);
    assert.equal(await upstream.queryCount("www.example.test"), 1, "one upstream query for both spellings");
  });

  test("NXDOMAIN is cached for min(SOA TTL, SOA MINIMUM) with the SOA", async () => {
    await upstream.clearQueryLog();
    const r = await dig(server, "missing.example.test");
    assert.equal(r.rcode, "NXDOMAIN");
    assert.equal(r.authority[0]!.type, "SOA");
    assert.ok(r.authority[0]!.ttl <= 20, `negative TTL ${r.authority[0]!.ttl} <= SOA MINIMUM 20`);
    const again = await dig(server, "MISSING.example.test");
    assert.equal(again.rcode, "NXDOMAIN");
    assert.equal(await upstream.queryCount("missing.example.test"), 1);
  });

  test("a 4 KB answer is truncated over UDP without EDNS and complete over TCP", async () => {
    const udp = await dig(server, "big.example.test", "TXT", { bufsize: null, ignoreTc: true });
    assert.ok(udp.flags.includes("tc"), "TC=1 over UDP");
    assert.equal(udp.answer.length, 0);
    const edns = await dig(server, "big.example.test", "TXT", { bufsize: 1232, ignoreTc: true });
    assert.ok(edns.flags.includes("tc"), "TC=1 when larger than the EDNS size too");
    const tcp = await dig(server, "big.example.test", "TXT", { tcp: true });
    assert.ok(!tcp.flags.includes("tc"));
    assert.equal(tcp.answer.length, largeTxtRecords("big.example.test", 4096).length);
    assert.ok((tcp.msgSize ?? 0) > 4000, `full answer over TCP: ${tcp.msgSize} bytes`);
  });

  test("1,000 identical concurrent misses reach the upstream as one query", async (t) => {
    await upstream.clearQueryLog();
    const socket = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
    const answered = new Set<number>();
    const done = new Promise<void>((resolve) => {
      socket.on("message", (msg) => {
        answered.add(msg.readUInt16BE(0));
        if (answered.size === 1000) resolve();
      });
    });
    for (let id = 0; id < 1000; id++)
      socket.send(encodeQuery("coalesce.example.test", "A", { id }), server.port, server.host);
    // Done as soon as all are answered; 30 s is a margin for a busy node, not an expected time.
    await Promise.race([done, new Promise((r) => setTimeout(r, 30_000).unref())]);
    socket.close();
    assert.equal(answered.size, 1000, "every query answered");
    assert.equal(await upstream.queryCount("coalesce.example.test"), 1);
    const text = await (await fetch(metricsUrl)).text();
    const coalesced = [
      ...text.matchAll(/^coredns_nodelocaldns_coalesced_queries_total\{[^}]*\} (\d+)$/gm),
    ].reduce((sum, m) => sum + Number(m[1]), 0);
    // Idle, most of them join the flight in progress; on a busy node the daemon may read the rest
    // only after the answer came back, and they are cache hits. Either way: one upstream query.
    t.diagnostic(`joined the flight in progress: ${coalesced}`);
  });

  test("100 queries pipelined on one TCP connection are all answered", async () => {
    const queries = Array.from({ length: 100 }, (_, i) =>
      encodeQuery(`p${i}.example.test`, "A", { id: 1000 + i }),
    );
    const replies = await tcpPipeline(server, queries);
    assert.equal(replies.length, 100);
    const ids = new Set(replies.map((r) => r.readUInt16BE(0)));
    for (let i = 0; i < 100; i++) assert.ok(ids.has(1000 + i), `answer for id ${1000 + i}`);
    for (const r of replies) assert.equal(r[3]! & 0x0f, 0);
  });

  test("EDNS: OPT is echoed to EDNS clients only; NOTIMP, REFUSED and FORMERR as specified", async () => {
    const withOpt = await query(server, "www.example.test", "A", { ednsUdpSize: 4096 });
    assert.equal(withOpt.packet.additionals!.filter((a) => a.type === "OPT").length, 1);
    const without = await query(server, "www.example.test", "A");
    assert.equal((without.packet.additionals ?? []).length, 0);
    const axfr = await query(server, "example.test", "AXFR", { proto: "tcp" });
    assert.equal(axfr.rcode, "REFUSED");
    const notify = encodeQuery("example.test", "SOA", { id: 77 });
    notify[2] = (notify[2]! & 0x87) | (4 << 3); // opcode NOTIFY
    const raw = await sendRaw(server, notify);
    assert.equal(raw[3]! & 0x0f, 4, "NOTIMP");
    const twoQuestions = encodeQuery("example.test", "A", { id: 78 });
    twoQuestions.writeUInt16BE(2, 4);
    assert.equal((await sendRaw(server, twoQuestions))[3]! & 0x0f, 1, "FORMERR");
  });

  test("random and truncated packets never crash the daemon", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
    const base = encodeQuery("www.example.test", "A", { ednsUdpSize: 1232 });
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      let buf: Buffer;
      if (i % 3 === 0) buf = Buffer.from(Array.from({ length: rand() % 80 }, () => rand() & 0xff));
      else {
        buf = Buffer.from(base.subarray(0, 1 + (rand() % base.length)));
        for (let k = rand() % 4; k > 0; k--) buf[rand() % buf.length] = rand() & 0xff;
        buf[2]! &= 0x7f; // keep it a query so most get past the header
      }
      socket.send(buf, server.port, server.host);
      if (i % 200 === 0) await sleep(5);
    }
    await sleep(300);
    socket.close();
    // TCP junk too: a bad length prefix and garbage.
    await tcpPipeline(server, [Buffer.from([1, 2, 3])], 500).catch(() => []);
    assert.ok(daemon.isRunning(), `daemon alive after junk\n${daemon.output().slice(-2000)}`);
    const ok = await query(server, "www.example.test");
    assert.equal(ok.rcode, "NOERROR");
  });

  test("upstream stopped: SERVFAIL within the deadline; answers within a second of its return", async () => {
    await upstream.stop();
    const started = Date.now();
    const r = await query(server, "short-lived.example.test", "A", { timeoutMs: 8000 });
    assert.equal(r.rcode, "SERVFAIL");
    assert.ok(Date.now() - started < 6500, `SERVFAIL after ${Date.now() - started} ms`);
    await upstream.restart();
    const back = Date.now();
    let rcode = "";
    while (Date.now() - back < 3000) {
      rcode = (
        await query(server, `p${Math.floor(Math.random() * 100)}x.example.test`, "A", { timeoutMs: 2000 })
      ).rcode;
      if (rcode === "NXDOMAIN") break;
      await sleep(100);
    }
    assert.equal(rcode, "NXDOMAIN", "normal answers again");
    assert.ok(Date.now() - back < 1500, `recovered after ${Date.now() - back} ms`);
  });
});

describe("serve_stale", () => {
  after(cleanupAll);

  test("an expired entry is served (TTL 0) while the upstream is down", async () => {
    const upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [soaRecord("stale.test"), "s.stale.test. 1 IN A 192.0.2.9"],
    });
    const host = uniqueLoopback();
    const server = { host, port: await freePort(host) };
    await startDaemon({
      corefile: `.:${server.port} {
    bind ${host}
    cache {
        success 100 1 1
        serve_stale 1h verify
    }
    forward . ${upstream.host}:${upstream.port}
}
`,
      readyProbe: server,
    });
    assert.equal((await query(server, "s.stale.test")).rcode, "NOERROR");
    await upstream.stop();
    await sleep(1500);
    const r = await query(server, "s.stale.test", "A", { timeoutMs: 8000 });
    assert.equal(r.rcode, "NOERROR");
    assert.equal((r.packet.answers![0] as { ttl: number; data: string }).data, "192.0.2.9");
    assert.equal((r.packet.answers![0] as { ttl: number }).ttl, 0);
  });
});

function sendRaw(server: { host: string; port: number }, buf: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      reject(new Error("no answer"));
    }, 3000);
    s.on("message", (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(buf, server.port, server.host);
  });
}
