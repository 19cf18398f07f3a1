// Tests of the integration-test support library against the real unbound, dnsmasq and dig.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import {
  cleanupAll,
  dig,
  encodeQuery,
  freePort,
  largeTxtRecords,
  parseDig,
  QueryTimeoutError,
  query,
  reply,
  soaRecord,
  startDaemon,
  startDnsmasq,
  startFakeUpstream,
  startUnbound,
  tcpPipeline,
  tempDir,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

const ZONE = [
  soaRecord("example.test", { ttl: 300, minimum: 45 }),
  "a.example.test. 120 IN A 10.0.0.1",
  "a.example.test. 120 IN AAAA fd00::1",
  'txt.example.test. 60 IN TXT "hello" "world"',
  "_dns._udp.example.test. 60 IN SRV 10 20 53 a.example.test.",
  "alias.example.test. 60 IN CNAME a.example.test.",
  "example.test. 60 IN MX 10 mail.example.test.",
  ...largeTxtRecords("big.example.test", 4096),
];

function sockets(pid: number): string[] {
  const out = execFileSync("ss", ["-tuanpH"], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes(`pid=${pid},`));
}

describe("ports", () => {
  test("freePort binds udp and tcp; uniqueLoopback differs per call", async () => {
    const host = uniqueLoopback();
    const other = uniqueLoopback();
    assert.notEqual(host, other);
    assert.match(host, /^127\.0\.\d+\.\d+$/);
    const port = await freePort(host);
    assert.ok(port > 1024);
    const fake = await startFakeUpstream({ host, port }); // binds both protocols on it
    await fake.stop();
  });
});

describe("unbound", () => {
  let ub: Upstream;
  const host = uniqueLoopback();

  test("starts and answers A, AAAA, TXT, SRV, CNAME, MX from local data", async () => {
    ub = await startUnbound({ host, records: ZONE });
    const a = await dig(ub, "a.example.test");
    assert.equal(a.rcode, "NOERROR");
    assert.ok(a.flags.includes("qr") && a.flags.includes("aa") && a.flags.includes("rd"));
    assert.deepEqual(a.answer, [
      { name: "a.example.test.", ttl: 120, class: "IN", type: "A", data: "10.0.0.1" },
    ]);
    assert.equal((await dig(ub, "a.example.test", "AAAA")).answer[0]?.data, "fd00::1");
    assert.equal((await dig(ub, "txt.example.test", "TXT")).answer[0]?.data, '"hello" "world"');
    assert.equal(
      (await dig(ub, "_dns._udp.example.test", "SRV")).answer[0]?.data,
      "10 20 53 a.example.test.",
    );
    const cname = await dig(ub, "alias.example.test", "A");
    assert.deepEqual(
      cname.answer.map((r) => r.type),
      ["CNAME"], // unbound does not chase CNAMEs within local data
    );
    assert.equal((await dig(ub, "example.test", "MX")).answer[0]?.data, "10 mail.example.test.");
  });

  test("NXDOMAIN carries the SOA (TTL = min(ttl, MINIMUM)); NODATA too", async () => {
    const nx = await dig(ub, "nope.example.test");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.answer.length, 0);
    assert.equal(nx.authority[0]?.type, "SOA");
    assert.equal(nx.authority[0]?.ttl, 45);
    assert.match(nx.authority[0]!.data, / 45$/);
    const nodata = await dig(ub, "txt.example.test", "A");
    assert.equal(nodata.rcode, "NOERROR");
    assert.equal(nodata.answer.length, 0);
    assert.equal(nodata.authority[0]?.type, "SOA");
  });

  test("4 KB TXT: truncated over UDP, whole over TCP", async () => {
    const udp = await dig(ub, "big.example.test", "TXT", { ignoreTc: true });
    assert.ok(udp.flags.includes("tc"));
    const tcp = await dig(ub, "big.example.test", "TXT", { tcp: true });
    assert.equal(tcp.transport, "TCP");
    assert.ok(!tcp.flags.includes("tc"));
    assert.ok(tcp.msgSize! > 3800, `size ${tcp.msgSize}`);
    assert.equal(tcp.answer.length, largeTxtRecords("big.example.test", 4096).length);
    const retried = await dig(ub, "big.example.test", "TXT");
    assert.ok(retried.retriedTcp);
    assert.equal(retried.transport, "TCP");
  });

  test("never recurses: unknown names are REFUSED fast, transparent misses SERVFAIL fast, loopback only", async () => {
    const t0 = Date.now();
    const r = await query(ub, "www.example.com", "A");
    assert.equal(r.rcode, "REFUSED");
    assert.ok(Date.now() - t0 < 1000);
    const tr = await startUnbound({
      host: uniqueLoopback(),
      records: ["x.other.test. 60 IN A 10.0.0.9"],
      zones: [{ name: "other.test.", type: "transparent" }],
    });
    const t1 = Date.now();
    assert.equal((await query(tr, "missing.other.test", "A", { timeoutMs: 3000 })).rcode, "SERVFAIL");
    assert.ok(Date.now() - t1 < 2000, `took ${Date.now() - t1} ms`);
    for (const pid of [ub.pid, tr.pid]) {
      const socks = sockets(pid);
      assert.ok(socks.length >= 2);
      // Columns: netid state recv-q send-q local peer process.
      for (const s of socks) assert.match(s.trim().split(/\s+/)[4]!, /^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/, s);
    }
    await tr.stop();
  });

  test("query counter counts per name and type, excluding probes", async () => {
    await ub.clearQueryLog();
    for (let i = 0; i < 3; i++) await query(ub, "a.example.test", "A");
    await query(ub, "A.Example.Test", "AAAA");
    assert.equal(await ub.waitForQueries(4), 4);
    assert.equal(await ub.queryCount("a.example.test", "A"), 3);
    assert.equal(await ub.queryCount("a.example.test."), 4);
    assert.equal(await ub.queryCount("txt.example.test"), 0);
  });

  test("tcpPipeline: 100 queries on one connection, all answered", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    const qs = ids.map((id) =>
      encodeQuery(id % 2 ? "a.example.test" : "txt.example.test", id % 2 ? "A" : "TXT", { id }),
    );
    const replies = await tcpPipeline(ub, qs);
    assert.equal(replies.length, 100);
    assert.deepEqual(
      replies.map((b) => b.readUInt16BE(0)).sort((x, y) => x - y),
      ids,
    );
  });

  test("restart keeps address and query log", async () => {
    const before = ub.pid;
    await ub.restart();
    assert.notEqual(ub.pid, before);
    assert.equal((await query(ub, "a.example.test", "A", { proto: "tcp" })).rcode, "NOERROR");
    assert.ok((await ub.queryCount("a.example.test")) >= 4);
    await ub.stop();
    await assert.rejects(query(ub, "a.example.test", "A", { timeoutMs: 300 }));
  });
});

describe("dnsmasq", () => {
  test("answers its records, NXDOMAIN under local domains, REFUSED elsewhere; counts queries", async () => {
    const dm = await startDnsmasq({
      host: uniqueLoopback(),
      hosts: [{ name: "a.dm.test", ipv4: "10.1.0.1", ipv6: "fd00::2", ttl: 77 }],
      txt: [{ name: "t.dm.test", strings: ["hello, world", "two"] }],
      srv: [{ name: "_x._tcp.dm.test", target: "a.dm.test", port: 80, priority: 1, weight: 2 }],
      cnames: [{ alias: "c.dm.test", target: "a.dm.test" }],
      localDomains: ["dm.test"],
    });
    const a = await dig(dm, "a.dm.test");
    assert.deepEqual(a.answer[0], { name: "a.dm.test.", ttl: 77, class: "IN", type: "A", data: "10.1.0.1" });
    assert.equal((await dig(dm, "a.dm.test", "AAAA")).answer[0]?.data, "fd00::2");
    assert.equal((await dig(dm, "t.dm.test", "TXT", { tcp: true })).answer[0]?.data, '"hello, world" "two"');
    assert.equal((await dig(dm, "_x._tcp.dm.test", "SRV")).answer[0]?.data, "1 2 80 a.dm.test.");
    assert.equal((await dig(dm, "c.dm.test")).answer[0]?.type, "CNAME");
    assert.equal((await dig(dm, "nx.dm.test")).rcode, "NXDOMAIN");
    assert.equal((await dig(dm, "www.example.com")).rcode, "REFUSED");
    assert.equal(await dm.waitForQueries(1, "a.dm.test", "AAAA"), 1);
    assert.equal(await dm.queryCount("a.dm.test"), 2);
    await dm.stop();
  });
});

describe("fake upstream", () => {
  test("rcodes, delay, silence, wrong id, wrong question, counting", async () => {
    const fake = await startFakeUpstream({ host: uniqueLoopback() });
    const def = await query(fake, "x.test", "A");
    const a0 = def.packet.answers?.[0];
    assert.ok(a0?.type === "A");
    assert.equal(a0.data, "192.0.2.1");

    fake.setHandler((q) => reply(q, { rcode: "SERVFAIL" }));
    assert.equal((await query(fake, "x.test")).rcode, "SERVFAIL");
    fake.setHandler((q) => reply(q, { rcode: "REFUSED" }));
    assert.equal((await query(fake, "x.test", "A", { proto: "tcp" })).rcode, "REFUSED");

    fake.setHandler(async (q) => {
      await new Promise((r) => setTimeout(r, 300));
      return reply(q);
    });
    assert.ok((await query(fake, "slow.test")).rttMs >= 290);

    fake.setHandler(() => null);
    await assert.rejects(query(fake, "silent.test", "A", { timeoutMs: 200 }), QueryTimeoutError);

    fake.setHandler((q) => ({ ...reply(q), id: ((q.id ?? 0) + 1) & 0xffff }));
    const wrongId = await query(fake, "id.test", "A", { id: 4242 });
    assert.equal(wrongId.packet.id, 4243);

    fake.setHandler((q) => ({ ...reply(q), questions: [{ name: "other.test", type: "A", class: "IN" }] }));
    assert.equal((await query(fake, "q.test")).packet.questions?.[0]?.name, "other.test");

    assert.equal((await query(fake, "Ready-Probe.invalid.")).rcode, "NXDOMAIN"); // probes bypass the handler
    assert.equal(fake.count("ready-probe.invalid"), 0);
    assert.equal(fake.count("silent.test"), 1);
    assert.equal(fake.count(undefined, "A"), fake.queries.length);
    await fake.stop();
  });

  test("TCP: close, partial reply, pipelined out-of-order answers", async () => {
    const fake = await startFakeUpstream({ host: uniqueLoopback() });
    fake.setHandler(() => ({ close: true }));
    await assert.rejects(query(fake, "c.test", "A", { proto: "tcp" }), /closed/);
    fake.setHandler((q) => ({ partial: reply(q), bytes: 7 }));
    await assert.rejects(query(fake, "p.test", "A", { proto: "tcp" }), /closed/);
    fake.setHandler(async (q) => {
      await new Promise((r) => setTimeout(r, q.id === 1 ? 100 : 0));
      return reply(q);
    });
    const replies = await tcpPipeline(fake, [
      encodeQuery("a.test", "A", { id: 1 }),
      encodeQuery("b.test", "A", { id: 2 }),
    ]);
    assert.deepEqual(
      replies.map((b) => b.readUInt16BE(0)),
      [2, 1],
    );
    assert.equal(fake.tcpConnections, 3);
    await fake.stop();
  });

  test("query() keeps the name's case and EDNS size on the wire", async () => {
    const fake = await startFakeUpstream({ host: uniqueLoopback() });
    let raw: Buffer | undefined;
    fake.setHandler((q, ctx) => {
      raw = ctx.raw;
      return reply(q);
    });
    const r = await query(fake, "MiXeD.CaSe.test", "A", { id: 777, ednsUdpSize: 4096 });
    assert.equal(r.packet.id, 777);
    assert.ok(raw!.includes(Buffer.from("MiXeD")));
    const decoded = dnsPacket.decode(raw!);
    const opt = decoded.additionals?.find((x) => x.type === "OPT");
    assert.equal(opt && "udpPayloadSize" in opt ? opt.udpPayloadSize : 0, 4096);
    assert.equal(r.packet.answers?.length, 0);
    await fake.stop();
  });
});

describe("dig parsing", () => {
  test("flags, EDNS, sections, TTLs, noedns", async () => {
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q) =>
        reply(q, {
          aa: true,
          rcode: "NXDOMAIN",
          authorities: [
            {
              name: "test",
              type: "SOA",
              ttl: 33,
              class: "IN",
              data: {
                mname: "ns.test",
                rname: "h.test",
                serial: 7,
                refresh: 1,
                retry: 2,
                expire: 3,
                minimum: 33,
              },
            },
          ],
        }),
    });
    const r = await dig(fake, "gone.test", "A", { bufsize: null });
    assert.equal(r.rcode, "NXDOMAIN");
    assert.deepEqual(r.flags, ["qr", "aa", "rd", "ra"]);
    assert.equal(r.opt, null);
    assert.deepEqual(r.question, { name: "gone.test.", class: "IN", type: "A" });
    assert.deepEqual(r.authority, [
      { name: "test.", ttl: 33, class: "IN", type: "SOA", data: "ns.test. h.test. 7 1 2 3 33" },
    ]);
    assert.equal(fake.queries.length, 1);
    await fake.stop();

    const text = `;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 5
;; flags: qr rd ra ad; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags: do; udp: 1232
;; QUESTION SECTION:
;x.test.\t\t\tIN\tA

;; ANSWER SECTION:
x.test.\t\t5\tIN\tA\t1.2.3.4

;; SERVER: 127.0.0.1#53(127.0.0.1) (UDP)
;; MSG SIZE  rcvd: 51
`;
    const p = parseDig(text);
    assert.equal(p.id, 5);
    assert.deepEqual(p.flags, ["qr", "rd", "ra", "ad"]);
    assert.deepEqual(p.opt, { version: 0, flags: ["do"], udp: 1232 });
    assert.equal(p.answer[0]?.ttl, 5);
    assert.equal(p.msgSize, 51);
    assert.equal(p.transport, "UDP");
  });
});

describe("process cleanup", () => {
  test("unbound and dnsmasq die with a test process killed by SIGKILL", async () => {
    const dir = await tempDir();
    const script = join(dir, "child.ts");
    const support = join(import.meta.dirname, "support", "index.ts");
    await writeFile(
      script,
      `import { startDnsmasq, startUnbound, uniqueLoopback } from ${JSON.stringify(support)};
const u = await startUnbound({ host: uniqueLoopback() });
const d = await startDnsmasq({ host: uniqueLoopback() });
console.log(JSON.stringify([u.pid, d.pid]));
setInterval(() => {}, 1000);
`,
    );
    // TMPDIR inside our temp dir, so the child's own temp dirs are removed with it.
    const child = spawn(process.execPath, [script], { env: { ...process.env, TMPDIR: dir }, stdio: "pipe" });
    const pids: number[] = await new Promise((resolve, reject) => {
      child.stdout.once("data", (b: Buffer) => resolve(JSON.parse(b.toString())));
      child.once("exit", () => reject(new Error("child exited early")));
    });
    assert.equal(pids.length, 2);
    child.kill("SIGKILL");
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 3000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pids.filter(alive), []);
  });
});

describe("daemon runner", () => {
  test("spawns the entry with -conf, waits for DNS, captures output, stops", async () => {
    const dir = await tempDir();
    const host = uniqueLoopback();
    const port = await freePort(host);
    const stub = join(dir, "stub.mjs");
    // A stand-in daemon: prints its args, answers DNS after a short delay, exits 0 on SIGTERM.
    await writeFile(
      stub,
      `import dgram from "node:dgram";
import { readFileSync } from "node:fs";
const conf = process.argv[process.argv.indexOf("-conf") + 1];
console.log("args", process.argv.slice(2).join(" "));
console.error("corefile", readFileSync(conf, "utf8").trim());
setTimeout(() => {
  const s = dgram.createSocket("udp4");
  s.on("message", (m, r) => { m[2] |= 0x80; m[3] = 5; s.send(m.subarray(0, 12 + (m.length > 12 ? m.length - 12 : 0)), r.port, r.address); });
  s.bind(${port}, "${host}", () => console.log("listening"));
}, 300);
process.on("SIGTERM", () => { console.log("bye"); process.exit(0); });
`,
    );
    const d = await startDaemon({
      corefile: ".:53 {\n  cache\n}\n",
      args: ["-v"],
      entry: stub,
      readyProbe: { host, port },
    });
    await d.waitForLine(/^listening$/, 2000);
    assert.match(d.output(), /args -conf \S+Corefile -v/);
    assert.match(d.output(), /corefile \.:53 \{/);
    assert.equal((await query({ host, port }, "x.test")).rcode, "REFUSED");
    await assert.rejects(d.waitForLine(/never/, 100), /never/);
    const exit = await d.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.match(d.output(), /bye/);

    const dead = startDaemon({ corefile: "", entry: join(dir, "missing.mjs"), readyProbe: { host, port } });
    await assert.rejects(dead, /daemon not ready[\s\S]*Cannot find module/);
  });
});
