// forward to tls:// upstreams against a real unbound serving DNS over TLS with a certificate from a
// CA this test makes: the `tls` variants and tls_servername work, verification failures answer
// SERVFAIL with the daemon alive, and many queries share a few pipelined connections.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  type Daemon,
  dig,
  freePort,
  makeTestCa,
  query,
  soaRecord,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

const ZONES = ["good", "ip", "mtls", "wrongname", "untrusted", "otherca", "plain"];

describe("forward to tls:// upstreams (unbound with tls-service-pem)", () => {
  let upstream: Upstream;
  let tlsAt: string;
  let daemon: Daemon;
  let server: { host: string; port: number };
  let metricsUrl: string;

  before(async () => {
    const host = uniqueLoopback();
    const ca = await makeTestCa();
    const otherCa = await makeTestCa("another CA");
    const serverCert = await ca.issue("unbound", ["dns.test", host]);
    const client = await ca.issue("client", ["client.test"], "clientAuth");
    const tlsPort = await freePort(host);
    tlsAt = `${host}:${tlsPort}`;
    upstream = await startUnbound({
      host,
      tls: { port: tlsPort, certFile: serverCert.certFile, keyFile: serverCert.keyFile },
      records: ZONES.flatMap((z) => [
        soaRecord(`${z}.test`, { ttl: 300, minimum: 20 }),
        `www.${z}.test. 300 IN A 192.0.2.7`,
        ...Array.from({ length: 120 }, (_, i) => `p${i}.${z}.test. 300 IN A 198.51.100.${i + 1}`),
      ]),
    });
    const h = uniqueLoopback();
    server = { host: h, port: await freePort(h) };
    metricsUrl = `http://${h}:${await freePort(h)}/metrics`;
    const block = (zone: string, to: string, options: string) =>
      `${zone}.test:${server.port} {\n  bind ${h}\n  forward . ${to} {\n${options}\n  }\n}\n`;
    daemon = await startDaemon({
      corefile: [
        block("good", `tls://${tlsAt}`, `    tls ${ca.caFile}\n    tls_servername dns.test`),
        block("ip", `tls://${tlsAt}`, `    tls ${ca.caFile}`),
        block(
          "mtls",
          `tls://${tlsAt}`,
          `    tls ${client.certFile} ${client.keyFile} ${ca.caFile}\n    tls_servername dns.test`,
        ),
        block("wrongname", `tls://${tlsAt}`, `    tls ${ca.caFile}\n    tls_servername other.test`),
        // No CA named: the system roots, which do not know this test's CA.
        block("untrusted", `tls://${tlsAt}`, "    tls\n    tls_servername dns.test"),
        block("otherca", `tls://${tlsAt}`, `    tls ${otherCa.caFile}\n    tls_servername dns.test`),
        block("plain", `${host}:${upstream.port}`, "    force_tcp"),
        `.:${server.port} {\n  bind ${h}\n  prometheus ${new URL(metricsUrl).host}\n  forward . ${host}:${upstream.port}\n}\n`,
      ].join(""),
      readyProbe: server,
    });
  });

  test("tls CA + tls_servername: answered over TLS", async () => {
    await upstream.clearQueryLog();
    const r = await dig(server, "www.good.test", "A");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.deepEqual(
      r.answer.map((a) => a.data),
      ["192.0.2.7"],
    );
    assert.ok((await upstream.queryLog()).some((q) => q.name === "www.good.test."));
    const text = await (await fetch(metricsUrl)).text();
    assert.match(text, new RegExp(`coredns_proxy_request_duration_seconds_count\\{[^}]*to="${tlsAt}"`));
  });

  test("without tls_servername the certificate is checked against the upstream's IP", async () => {
    const r = await dig(server, "www.ip.test", "A", { tcp: true });
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.equal(r.answer[0]?.data, "192.0.2.7");
  });

  test("tls CERT KEY CA (client certificate) works", async () => {
    const r = await dig(server, "www.mtls.test", "A");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.equal(r.answer[0]?.data, "192.0.2.7");
  });

  for (const zone of ["wrongname", "untrusted", "otherca"]) {
    test(`${zone}: the certificate is refused, SERVFAIL, the daemon keeps serving`, async () => {
      await upstream.clearQueryLog();
      const started = Date.now();
      const r = await dig(server, `www.${zone}.test`, "A", { timeoutSec: 8 });
      assert.equal(r.rcode, "SERVFAIL", r.raw);
      assert.ok(Date.now() - started < 7000, "within the forward deadline");
      assert.ok(
        !(await upstream.queryLog()).some((q) => q.name === `www.${zone}.test.`),
        "no query got through",
      );
      assert.ok(daemon.isRunning());
      assert.equal((await dig(server, "www.good.test", "A")).rcode, "NOERROR");
    });
  }

  test("many queries are pipelined on a few pooled TLS connections", async () => {
    const names = Array.from({ length: 120 }, (_, i) => `p${i}.good.test`);
    const replies = await Promise.all(names.map((n) => query(server, n, "A", { timeoutMs: 8000 })));
    replies.forEach((r, i) => {
      assert.equal(r.rcode, "NOERROR");
      const a = r.packet.answers?.[0] as { data?: string } | undefined;
      assert.equal(a?.data, `198.51.100.${i + 1}`);
    });
    const text = await (await fetch(metricsUrl)).text();
    const m = new RegExp(`coredns_nodelocaldns_upstream_tcp_connections\\{to="${tlsAt}"\\} (\\d+)`).exec(
      text,
    );
    assert.ok(m, text);
    // The pool opens a connection per 32 outstanding queries, at most 8.
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) <= 8, `open TLS connections: ${m[1]}`);
  });
});
