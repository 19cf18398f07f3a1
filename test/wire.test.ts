// Wire behaviour of the real daemon in front of a real unbound: EDNS version (BADVERS), opcodes
// (NOTIMP first), RA on error replies, UDP truncation that keeps whole records, and the RFC edge
// cases (unknown EDNS options and flags, COOKIE, TC in a query, QDCOUNT > 1, classes other than IN).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import {
  cleanupAll,
  type Daemon,
  dig,
  encodeQuery,
  exchange,
  freePort,
  type Server,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";
import { endpointSliceJson, FakeKubeApi, namespaceJson, serviceJson } from "./support/kubeapi-server.ts";

const MANY = 60;
const manyRecords = Array.from(
  { length: MANY },
  (_, i) => `many.example.test. 300 IN A 10.9.${Math.floor(i / 250)}.${(i % 250) + 1}`,
);

interface OptOptions {
  version?: number;
  /** The 16 flag bits of the OPT TTL (DO is 0x8000). */
  flags?: number;
  options?: { code: number; data: Buffer }[];
  udpSize?: number;
}

/** A query with an OPT record built by hand, so every field can be what a test needs. */
function ednsQuery(name: string, type: dnsPacket.RecordType, id: number, o: OptOptions = {}): Buffer {
  const base = encodeQuery(name, type, { id });
  const options = o.options ?? [];
  const rdLength = options.reduce((n, x) => n + 4 + x.data.length, 0);
  const opt = Buffer.alloc(11 + rdLength);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(o.udpSize ?? 1232, 3);
  opt[6] = o.version ?? 0;
  opt.writeUInt16BE(o.flags ?? 0, 7);
  opt.writeUInt16BE(rdLength, 9);
  let at = 11;
  for (const x of options) {
    opt.writeUInt16BE(x.code, at);
    opt.writeUInt16BE(x.data.length, at + 2);
    x.data.copy(opt, at + 4);
    at += 4 + x.data.length;
  }
  const out = Buffer.concat([base, opt]);
  out.writeUInt16BE(1, 10);
  return out;
}

interface OptSeen {
  count: number;
  udpSize: number;
  extendedRcode: number;
  version: number;
  flags: number;
  options: number[];
}

/** Section counts, flags and the reply's OPT record, read from the bytes. */
function inspect(raw: Buffer) {
  const decoded = dnsPacket.decode(raw);
  const opts = (decoded.additionals ?? []).filter((a) => a.type === "OPT");
  let opt: OptSeen | null = null;
  if (opts.length > 0) {
    // dns-packet folds the TTL field: read it from the bytes, at the end where the OPT sits.
    const o = opts[0] as unknown as { udpPayloadSize: number; options?: { code: number }[] };
    const ttlAt = raw.length - 11 + 5;
    opt = {
      count: opts.length,
      udpSize: o.udpPayloadSize,
      extendedRcode: raw[ttlAt]!,
      version: raw[ttlAt + 1]!,
      flags: raw.readUInt16BE(ttlAt + 2),
      options: (o.options ?? []).map((x) => x.code),
    };
  }
  const flags = raw.readUInt16BE(2);
  return {
    rcode: flags & 0xf,
    opcode: (flags >> 11) & 0xf,
    ra: (flags & 0x80) !== 0,
    tc: (flags & 0x200) !== 0,
    qdcount: raw.readUInt16BE(4),
    answers: (decoded.answers ?? []).length,
    opt,
  };
}

describe("wire behaviour against unbound", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let server: Server;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: ["a.example.test. 300 IN A 10.1.0.1", "b.example.test. 300 IN A 10.1.0.2", ...manyRecords],
      zones: [{ name: "example.test.", type: "static" }],
    });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    daemon = await startDaemon({
      corefile: `.:${server.port} {
    bind ${host}
    cache 30
    forward . ${upstream.host}:${upstream.port}
}
`,
      readyProbe: server,
    });
  });

  after(cleanupAll);

  for (const proto of ["udp", "tcp"] as const) {
    test(`EDNS version 1 gets BADVERS with an OPT of version 0, cached name or not (${proto})`, async () => {
      await upstream.clearQueryLog();
      // b.example.test is cached first; a.example.test never reaches the upstream at all.
      await exchange(server, encodeQuery("b.example.test", "A"), proto);
      for (const name of ["a.example.test", "b.example.test"]) {
        const raw = await exchange(server, ednsQuery(name, "A", 7, { version: 1, flags: 0x8000 }), proto);
        const r = inspect(raw);
        assert.equal(raw.readUInt16BE(0), 7);
        assert.equal(r.rcode, 0, "header rcode: the low 4 bits of 16");
        assert.equal(r.opt?.extendedRcode, 1, "OPT extended rcode 1: BADVERS (16)");
        assert.equal(r.opt?.version, 0);
        assert.equal(r.answers, 0, `${name}: no answer with BADVERS`);
        assert.equal(r.ra, false);
      }
      assert.equal(await upstream.queryCount("a.example.test"), 0, "BADVERS before any lookup");
      const dug = await dig(server, "b.example.test", "A", { extraArgs: ["+edns=1", "+noednsnegotiation"] });
      assert.equal(dug.rcode, "BADVERS");
    });
  }

  test("any opcode but QUERY gets NOTIMP whatever the section counts; no RA on it", async () => {
    for (const [opcode, qdcount] of [
      [2, 0], // STATUS, no question: was FORMERR
      [4, 1], // NOTIFY
      [5, 3], // UPDATE with three "zones"
      [1, 0], // IQUERY
    ] as const) {
      const q = encodeQuery("a.example.test", "A", { id: 40 + opcode });
      q[2] = (q[2]! & 0x87) | (opcode << 3);
      q.writeUInt16BE(qdcount, 4);
      q.writeUInt16BE(2, 6); // ANCOUNT garbage too
      const raw = await exchange(server, qdcount === 0 ? q.subarray(0, 12) : q, "udp");
      const r = inspect(raw);
      assert.equal(r.rcode, 4, `opcode ${opcode} qdcount ${qdcount}: NOTIMP`);
      assert.equal(r.opcode, opcode, "opcode echoed");
      assert.equal(r.ra, false);
    }
  });

  test("error replies carry no RA (CoreDNS); answers keep the upstream's RA", async () => {
    const formerr = encodeQuery("a.example.test", "A", { id: 3 });
    formerr.writeUInt16BE(2, 4); // QDCOUNT 2, one question present
    const fr = await exchange(server, formerr, "udp");
    assert.equal(fr[3]! & 0xf, 1, "QDCOUNT > 1: FORMERR");
    assert.equal((fr[3]! & 0x80) !== 0, false);
    const answer = inspect(await exchange(server, encodeQuery("a.example.test", "A")));
    assert.equal(answer.rcode, 0);
    assert.equal(answer.ra, true, "unbound's RA comes through");
  });

  test("class CH: passed on where a block forwards, REFUSED where none does (CoreDNS classChaos)", async () => {
    await upstream.clearQueryLog();
    await exchange(server, encodeQuery("ch.example.test", "TXT", { qclass: "CH" }));
    assert.equal(await upstream.queryCount("ch.example.test"), 1, "forward passes class CH on");
    const host = uniqueLoopback();
    const local = { host, port: await freePort(host) };
    await startDaemon({
      corefile: `.:${local.port} {\n    bind ${host}\n    whoami\n}\n`,
      readyProbe: local,
    });
    const refused = inspect(await exchange(local, encodeQuery("a.example.test", "A", { qclass: "CH" })));
    assert.equal(refused.rcode, 5, "no forward on the listener: REFUSED, as CoreDNS without chaos/forward");
    assert.equal(refused.ra, false);
    const asked = inspect(await exchange(local, encodeQuery("a.example.test", "A")));
    assert.equal(asked.rcode, 0, "class IN: whoami answers");
  });

  test("over UDP a 60-record answer keeps the whole records that fit and sets TC", async () => {
    for (const round of ["miss", "hit"]) {
      const plain = inspect(await exchange(server, encodeQuery("many.example.test", "A"), "udp"));
      assert.equal(plain.tc, true, `${round}: TC over 512 bytes`);
      // 12 + 23 question bytes, 16 per compressed A record: 29 fit in 512.
      assert.equal(plain.answers, 29, `${round}: the records that fit in 512 bytes`);
      const small = await exchange(server, ednsQuery("many.example.test", "A", 9, { udpSize: 700 }), "udp");
      const s = inspect(small);
      assert.ok(small.length <= 700, `${small.length} <= 700`);
      assert.equal(s.tc, true);
      assert.equal(s.answers, Math.floor((700 - 35 - 11) / 16));
      assert.equal(s.opt?.count, 1, "the OPT record is kept");
      const large = inspect(await exchange(server, ednsQuery("many.example.test", "A", 9), "udp"));
      assert.equal(large.tc, false);
      assert.equal(large.answers, MANY);
      const tcp = inspect(await exchange(server, encodeQuery("many.example.test", "A"), "tcp"));
      assert.equal(tcp.tc, false);
      assert.equal(tcp.answers, MANY);
    }
  });

  test("unknown EDNS options and flags are ignored and not echoed; COOKIE is ignored as unbound does", async () => {
    const cases: [string, OptOptions][] = [
      ["unknown option", { options: [{ code: 65001, data: Buffer.from("abcd") }] }],
      ["unknown flag bits", { flags: 0x4001 }],
      ["client cookie", { options: [{ code: 10, data: Buffer.alloc(8, 1) }] }],
      ["client + server cookie", { options: [{ code: 10, data: Buffer.alloc(24, 2) }] }],
      ["malformed cookie", { options: [{ code: 10, data: Buffer.alloc(5, 3) }] }],
    ];
    for (const [label, o] of cases) {
      for (const proto of ["udp", "tcp"] as const) {
        const r = inspect(await exchange(server, ednsQuery("a.example.test", "A", 11, o), proto));
        assert.equal(r.rcode, 0, `${label}/${proto}: answered`);
        assert.equal(r.answers, 1, `${label}/${proto}`);
        assert.deepEqual(r.opt?.options, [], `${label}/${proto}: no option echoed`);
        assert.equal(r.opt?.flags, 0, `${label}/${proto}: no flag echoed`);
      }
    }
    const withDo = inspect(await exchange(server, ednsQuery("a.example.test", "A", 12, { flags: 0xc000 })));
    assert.equal(withDo.opt?.flags, 0x8000, "DO is the one flag copied back (RFC 3225)");
  });

  test("TC set in a query is ignored (CoreDNS; unbound says FORMERR)", async () => {
    const q = encodeQuery("a.example.test", "A", { id: 21 });
    q[2]! |= 0x02;
    const r = inspect(await exchange(server, q, "udp"));
    assert.equal(r.rcode, 0);
    assert.equal(r.answers, 1);
    assert.equal(r.tc, false);
  });

  test("the daemon is still there", () => {
    assert.equal(daemon.isRunning(), true);
  });
});

describe("truncation of cluster answers (a headless Service with 60 ready endpoints)", () => {
  const api = new FakeKubeApi();
  let server: Server;
  let cachedServer: Server;

  before(async () => {
    await api.start();
    api.create("namespace", namespaceJson("ns1"));
    api.create("service", serviceJson("ns1", "big", { clusterIP: "None" }));
    const endpoints = Array.from({ length: MANY }, (_, i) => ({ ip: `10.2.0.${i + 1}` }));
    api.create("endpointslice", endpointSliceJson("ns1", "big-1", "big", endpoints));
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    cachedServer = { host, port: await freePort(host) };
    const block = (port: number, cache: string) => `cluster.local:${port} {
    bind ${host}
${cache}    kubernetes cluster.local {
        endpoint ${api.url}
    }
}
`;
    await startDaemon({
      corefile: block(server.port, "") + block(cachedServer.port, "    cache 30\n"),
      readyProbe: server,
    });
  });

  after(async () => {
    await api.stop();
    await cleanupAll();
  });

  test("UDP keeps the 29 records that fit in 512 bytes with TC; TCP gets all 60", async () => {
    for (const target of [server, server, cachedServer, cachedServer]) {
      let udp = inspect(await exchange(target, encodeQuery("big.ns1.svc.cluster.local", "A"), "udp"));
      for (let i = 0; udp.answers === 0 && !udp.tc && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100)); // the first sync
        udp = inspect(await exchange(target, encodeQuery("big.ns1.svc.cluster.local", "A"), "udp"));
      }
      assert.equal(udp.tc, true);
      // 12 + 31 question bytes, 16 per A record whose owner points at the question.
      assert.equal(udp.answers, Math.floor((512 - 43) / 16));
      const tcp = inspect(await exchange(target, encodeQuery("big.ns1.svc.cluster.local", "A"), "tcp"));
      assert.equal(tcp.tc, false);
      assert.equal(tcp.answers, MANY);
    }
  });
});
