// loadbalance, bufsize, dns64, whoami, timeouts, pprof and debug in the real daemon, asked with dig,
// with a real unbound behind it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  type Daemon,
  dig,
  encodeQuery,
  freePort,
  largeTxtRecords,
  reply,
  soaRecord,
  startDaemon,
  startFakeUpstream,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

/** Milliseconds until the server closes a TCP connection that sends `send` and then nothing. */
function closedAfter(host: string, port: number, send: Buffer | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host, port }, () => {
      if (send !== null) socket.write(send);
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(Date.now() - started));
    socket.resume();
  });
}

describe("issue 16 part B directives against unbound", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let host: string;
  let port: number;
  let allPort: number;
  let allServer: { host: string; port: number };
  let v6: { host: string; port: number };
  let pprofUrl: string;
  let metricsUrl: string;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("lb.test", { ttl: 300, minimum: 30 }),
        ...[1, 2, 3, 4, 5].map((i) => `many.lb.test. 300 IN A 10.1.0.${i}`),
        ...[1, 2, 3].map((i) => `lb.test. 300 IN MX ${i * 10} mx${i}.lb.test.`),
        soaRecord("v4only.test", { ttl: 120, minimum: 30 }),
        "only4.v4only.test. 300 IN A 192.0.2.33",
        "dual.v4only.test. 300 IN A 192.0.2.34",
        "dual.v4only.test. 300 IN AAAA 2001:db8::34",
        "33.2.0.192.in-addr.arpa. 300 IN PTR only4.v4only.test.",
        soaRecord("big.test"),
        ...largeTxtRecords("txt.big.test", 900),
      ],
      zones: [
        { name: "lb.test.", type: "static" },
        { name: "v4only.test.", type: "static" },
        { name: "big.test.", type: "static" },
        { name: "2.0.192.in-addr.arpa.", type: "static" },
      ],
    });
    const u = `${upstream.host}:${upstream.port}`;
    host = uniqueLoopback();
    // Every listener on an address of its own: a port freePort just released may come back again.
    port = await freePort(host);
    const allHost = uniqueLoopback();
    allPort = await freePort(allHost);
    allServer = { host: allHost, port: allPort };
    v6 = { host: "::1", port: await freePort("::1") };
    const pprofHost = uniqueLoopback();
    pprofUrl = `http://${pprofHost}:${await freePort(pprofHost)}/debug/pprof`;
    const metricsHost = uniqueLoopback();
    metricsUrl = `http://${metricsHost}:${await freePort(metricsHost)}/metrics`;
    daemon = await startDaemon({
      corefile: `lb.test:${port} {
  bind ${host}
  cache 30
  loadbalance round_robin
  forward . ${u}
}
v4only.test:${port} 2.0.192.in-addr.arpa:${port} ip6.arpa:${port} {
  bind ${host}
  dns64
  forward . ${u}
}
v4only.test:${v6.port} 2.0.192.in-addr.arpa:${v6.port} ip6.arpa:${v6.port} {
  bind ::1
  cache
  dns64 64:ff9b::/96
  forward . ${u}
}
v4only.test:${allPort} {
  bind ${allHost}
  dns64 {
    prefix 2001:db8:64::/48
    translate_all
    allow_ipv4
  }
  forward . ${u}
}
big.test:${port} {
  bind ${host}
  bufsize 512
  forward . ${u}
}
whoami.test:${port} {
  bind ${host}
  whoami
}
.:${port} {
  bind ${host}
  timeouts {
    read 1s
    idle 3s
  }
  debug
  pprof ${new URL(pprofUrl).host}
  prometheus ${new URL(metricsUrl).host}
  forward . ${u}
}
`,
      readyProbe: { host, port },
    });
  });

  test("loadbalance: A and MX orders vary, on cache hits too; the records stay the same", async () => {
    const aOrders = new Set<string>();
    const mxOrders = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await dig({ host, port }, "many.lb.test", "A");
      assert.equal(r.rcode, "NOERROR");
      const ips = r.answer.map((a) => a.data);
      assert.deepEqual([...ips].sort(), ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"]);
      aOrders.add(ips.join(","));
      const mx = await dig({ host, port }, "lb.test", "MX");
      mxOrders.add(mx.answer.map((a) => a.data).join(","));
      assert.equal(mx.answer.length, 3);
    }
    // Two upstream queries in all: every other answer was a cache hit, and still shuffled.
    const asked = (await upstream.queryLog()).filter((q) => q.name.endsWith("lb.test."));
    assert.equal(asked.length, 2, JSON.stringify(asked));
    assert.ok(aOrders.size >= 4, `A orders seen: ${aOrders.size}`);
    assert.ok(mxOrders.size >= 2, `MX orders seen: ${mxOrders.size}`);
  });

  test("dns64: an IPv6 client gets AAAA synthesized from A (TTL capped by the SOA's)", async () => {
    const r = await dig(v6, "only4.v4only.test", "AAAA");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.deepEqual(
      r.answer.map((a) => [a.type, a.data, a.ttl]),
      // min(A TTL 300, the SOA TTL in the AAAA reply: 30 as served, RFC 2308's min(TTL, MINIMUM))
      [["AAAA", "64:ff9b::c000:221", 30]],
    );
    const dual = await dig(v6, "dual.v4only.test", "AAAA");
    assert.deepEqual(
      dual.answer.map((a) => a.data),
      ["2001:db8::34"],
      "a name with AAAA keeps them",
    );
    const missing = await dig(v6, "nope.v4only.test", "AAAA");
    assert.equal(missing.rcode, "NXDOMAIN");
    const a = await dig(v6, "only4.v4only.test", "A");
    assert.deepEqual(
      a.answer.map((x) => x.data),
      ["192.0.2.33"],
    );
  });

  test("dns64: IPv4 clients are not translated unless allow_ipv4; translate_all replaces AAAA", async () => {
    const plain = await dig({ host, port }, "only4.v4only.test", "AAAA");
    assert.equal(plain.rcode, "NOERROR");
    assert.deepEqual(plain.answer, []);
    const all = await dig(allServer, "dual.v4only.test", "AAAA");
    assert.equal(all.rcode, "NOERROR", all.raw);
    assert.deepEqual(
      all.answer.map((a) => a.data),
      ["2001:db8:64:c000:2:2200::"],
      "the /48 prefix skips bits 64..71; the real AAAA is replaced",
    );
  });

  test("dns64: PTR in the prefix's ip6.arpa is a CNAME to in-addr.arpa plus its answer", async () => {
    const name = "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa";
    const r = await dig(v6, name, "PTR");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.deepEqual(
      r.answer.map((a) => [a.type, a.data]),
      [
        ["CNAME", "33.2.0.192.in-addr.arpa."],
        ["PTR", "only4.v4only.test."],
      ],
    );
  });

  test("dns64 counts translations as CoreDNS names the metric", async () => {
    const text = await (await fetch(metricsUrl)).text();
    const m = /coredns_dns64_requests_translated_total\{server="dns:\/\/\[::1\]:\d+"\} (\d+)/.exec(text);
    assert.ok(
      m && Number(m[1]) >= 1,
      text
        .split("\n")
        .filter((l) => l.includes("dns64"))
        .join("\n"),
    );
  });

  test("bufsize 512: a 1232-byte client still gets at most 512 bytes over UDP (TC=1)", async () => {
    const capped = await dig({ host, port }, "txt.big.test", "TXT", { bufsize: 1232, ignoreTc: true });
    assert.ok(capped.flags.includes("tc"), capped.raw);
    assert.ok((capped.msgSize ?? 0) <= 512, `size ${capped.msgSize}`);
    const other = await dig({ host, port }, "many.lb.test", "A", { bufsize: 1232 });
    assert.equal(other.rcode, "NOERROR");
    const tcp = await dig({ host, port }, "txt.big.test", "TXT", { tcp: true });
    assert.ok(!tcp.flags.includes("tc") && tcp.answer.length > 1);
  });

  test("whoami: the client's address and source port in additional", async () => {
    const source = uniqueLoopback();
    const sport = await freePort(source);
    for (const tcp of [false, true]) {
      const r = await dig({ host, port }, "whoami.test", "A", {
        tcp,
        extraArgs: ["-b", `${source}#${sport}`],
      });
      assert.equal(r.rcode, "NOERROR", r.raw);
      assert.ok(r.flags.includes("aa"));
      assert.deepEqual(r.answer, []);
      assert.deepEqual(
        r.additional.map((x) => [x.name, x.type, x.data]),
        [
          ["whoami.test.", "A", source],
          [`_${tcp ? "tcp" : "udp"}.whoami.test.`, "SRV", `0 0 ${sport} .`],
        ],
      );
    }
  });

  test("timeouts: read 1s closes a connection with no query; idle 3s one quiet after a query", async () => {
    const quiet = await closedAfter(host, port, null);
    assert.ok(quiet >= 900 && quiet < 2500, `no query: closed after ${quiet} ms (read 1s)`);
    const half = await closedAfter(host, port, Buffer.from([0, 40, 1, 2, 3]));
    assert.ok(half >= 900 && half < 2500, `half a query: closed after ${half} ms (read 1s)`);
    const q = encodeQuery("many.lb.test", "A");
    const frame = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    const idle = await closedAfter(host, port, frame);
    assert.ok(idle >= 2900 && idle < 6000, `after one query: closed after ${idle} ms (idle 3s)`);
  });

  test("pprof: a CPU profile and a heap snapshot over HTTP", async () => {
    const index = await fetch(`${pprofUrl}/`);
    assert.equal(index.status, 200);
    const profile = (await (await fetch(`${pprofUrl}/profile?seconds=1`)).json()) as {
      nodes: unknown[];
      startTime: number;
      endTime: number;
    };
    assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0);
    assert.ok(profile.endTime > profile.startTime);
    const heap = await fetch(`${pprofUrl}/heap`);
    assert.equal(heap.status, 200);
    const head = (await heap.text()).slice(0, 20);
    assert.match(head, /^\{"snapshot":/);
    assert.equal((await fetch(`${pprofUrl}/profile?seconds=0`)).status, 400);
  });

  test("debug: the daemon logs at debug level while a block has it", async () => {
    assert.ok(daemon.isRunning());
    assert.match(daemon.output(), /"level":20,.*log level raised to debug/);
  });
});

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The first Corefile example under the README heading that starts with "### `NAME". */
function readmeExample(name: string): string {
  const at = README.indexOf(`### \`${name}`);
  assert.ok(at >= 0, `README section for ${name}`);
  const m = /```corefile\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(m, `README example for ${name}`);
  return m[1]!;
}

describe("the README examples of these directives, run as written (addresses made local)", () => {
  let upstream: Upstream;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 30 }),
        ...[1, 2, 3, 4].map((i) => `many.example.test. 300 IN A 10.2.0.${i}`),
        "dual.example.test. 300 IN A 192.0.2.34",
        "dual.example.test. 300 IN AAAA 2001:db8::34",
        ...largeTxtRecords("mid.example.test", 1000, 300, 1),
      ],
    });
  });

  /** The example with its port, upstream and pprof address made local, bound to `hosts`. */
  let pprofAddress = "";

  async function run(name: string, hosts: string[], port: number): Promise<Daemon> {
    const pprofHost = uniqueLoopback();
    const pprof = `${pprofHost}:${await freePort(pprofHost)}`;
    pprofAddress = pprof;
    const text = readmeExample(name)
      .replace(/^(\S+?):(53|1053) \{/m, `$1:${port} {\n    bind ${hosts.join(" ")}`)
      .replaceAll("127.0.0.1:5300", `${upstream.host}:${upstream.port}`)
      .replace("localhost:6053", pprof);
    return startDaemon({ corefile: text, readyProbe: { host: hosts[0]!, port } });
  }

  test("loadbalance round_robin", async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const d = await run("loadbalance", [host], port);
    const orders = new Set<string>();
    for (let i = 0; i < 10; i++) {
      orders.add((await dig({ host, port }, "many.example.test", "A")).answer.map((a) => a.data).join());
    }
    assert.ok(orders.size >= 3, `orders: ${orders.size}`);
    await d.stop();
  });

  test("bufsize 1024", async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const d = await run("bufsize", [host], port);
    const udp = await dig({ host, port }, "mid.example.test", "TXT", { bufsize: 1232, ignoreTc: true });
    assert.ok(udp.flags.includes("tc") && (udp.msgSize ?? 0) <= 1024, udp.raw);
    const tcp = await dig({ host, port }, "mid.example.test", "TXT", { tcp: true });
    assert.ok((tcp.msgSize ?? 0) > 1024 && (tcp.msgSize ?? 0) <= 1232, `whole reply ${tcp.msgSize} bytes`);
    await d.stop();
  });

  test("dns64 64:ff9b::/96 { translate_all }", async () => {
    const host = uniqueLoopback();
    const port = await freePort("::1");
    const d = await run("dns64", ["::1", host], port);
    const v6 = await dig({ host: "::1", port }, "dual.example.test", "AAAA");
    assert.deepEqual(
      v6.answer.map((a) => a.data),
      ["64:ff9b::c000:222"],
    );
    const v4 = await dig({ host, port }, "dual.example.test", "AAAA");
    assert.deepEqual(
      v4.answer.map((a) => a.data),
      ["2001:db8::34"],
      "IPv4 clients are not translated",
    );
    await d.stop();
  });

  test("whoami", async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const d = await run("whoami", [host], port);
    const r = await dig({ host, port }, "whoami.example", "A");
    assert.deepEqual(
      r.additional.map((a) => a.type),
      ["A", "SRV"],
    );
    await d.stop();
  });

  test("timeouts, debug, pprof start and serve", async () => {
    for (const name of ["timeouts", "debug", "pprof"]) {
      const host = uniqueLoopback();
      const port = await freePort(host);
      const d = await run(name, [host], port);
      assert.equal((await dig({ host, port }, "many.example.test", "A", { tcp: true })).rcode, "NOERROR");
      if (name === "debug") assert.match(d.output(), /log level raised to debug/);
      if (name === "pprof") assert.equal((await fetch(`http://${pprofAddress}/debug/pprof/`)).status, 200);
      await d.stop();
    }
  });
});

describe("bufsize and the EDNS size we advertise upstream", () => {
  test("512 with bufsize 512, our 1232 without it (bufsize never raises it)", async () => {
    const sizes = new Map<string, number>();
    const fake = await startFakeUpstream({
      host: uniqueLoopback(),
      handler: (q) => {
        const opt = (q.additionals ?? []).find((rr) => rr.type === "OPT") as
          | { udpPayloadSize?: number }
          | undefined;
        sizes.set(q.questions?.[0]?.name ?? "", opt?.udpPayloadSize ?? 0);
        return reply(q, {
          answers: [{ name: q.questions![0]!.name, type: "A", ttl: 60, data: "192.0.2.1" }],
        });
      },
    });
    const host = uniqueLoopback();
    const port = await freePort(host);
    const to = `${fake.host}:${fake.port}`;
    const d = await startDaemon({
      corefile: [
        `small.test:${port} {\n  bind ${host}\n  bufsize 512\n  forward . ${to}\n}\n`,
        `large.test:${port} {\n  bind ${host}\n  bufsize 4096\n  forward . ${to}\n}\n`,
        `plain.test:${port} {\n  bind ${host}\n  forward . ${to}\n}\n`,
      ].join(""),
      readyProbe: { host, port },
    });
    for (const zone of ["small", "large", "plain"]) {
      assert.equal((await dig({ host, port }, `a.${zone}.test`, "A", { bufsize: 4096 })).rcode, "NOERROR");
    }
    assert.deepEqual(Object.fromEntries(sizes), {
      "a.small.test": 512,
      "a.large.test": 1232,
      "a.plain.test": 1232,
    });
    await d.stop();
    await fake.stop();
  });
});
