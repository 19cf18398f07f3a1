// The stock nodelocaldns.yaml set-up, run unchanged but for ports: the manifest's Corefile (with the
// sed substitutions the install docs do) as -basecorefile, the manifest's argument list, a real unbound
// playing kube-dns (ClusterIP from KUBE_DNS_UPSTREAM_SERVICE_HOST, reached over TCP), and a node whose
// resolv.conf names only systemd-resolved's stub 127.0.0.53 while systemd's own resolv.conf names a
// second unbound. Nothing is ever sent to 127.0.0.53 or to the machine's resolvers.
//
// Ports: the fixture hard-codes `:53` in its server keys, `prometheus :9253` and `:8080`; the test
// rewrites those three to free ports (and passes -dns.port / -health-port to match), because port 53
// on the listen addresses and 0.0.0.0:9253 would collide with parallel tests. Upstreams do listen on
// port 53 of their own 127.0.x.y addresses, since a ClusterIP and a resolv.conf nameserver carry no port.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { metric, type StockSetup, startStock } from "./fixtures/nodecache-stock.ts";
import { cleanupAll, dig } from "./support/index.ts";

after(cleanupAll);

for (const operatorEdits of [false, true]) {
  describe(`stock nodelocaldns.yaml Corefile and arguments${operatorEdits ? ", with hosts, rewrite and template added" : ""}`, () => {
    let s: StockSetup;
    before(async () => {
      s = await startStock({ operatorEdits });
    });

    test("the generated -conf is the base with node-cache's substitutions", async () => {
      const text = await readFile(s.daemon.corefilePath, "utf8");
      assert.doesNotMatch(text, /__PILLAR__/);
      assert.match(text, new RegExp(`bind ${s.localIp} ${s.dnsServerIp}\\n`));
      assert.match(text, new RegExp(`forward \\. ${s.kubeDns.host} \\{\\n\\s+force_tcp`));
      // The node's upstream came from systemd's resolv.conf, and the log says why.
      assert.match(text, new RegExp(`forward \\. ${s.nodeDns.host}\\n`));
      assert.match(
        s.daemon.output(),
        /names only the local stub 127\.0\.0\.53; using .*systemd-resolv\.conf/,
      );
    });

    test("cluster names go to kube-dns, others to the node's upstream, on both listen addresses", async () => {
      for (const host of [s.localIp, s.dnsServerIp]) {
        const web = await dig({ host, port: s.port }, "web.default.svc.cluster.local", "A");
        assert.equal(web.rcode, "NOERROR");
        assert.equal(web.answer[0]?.data, "10.0.0.5");
        const ext = await dig({ host, port: s.port }, "www.example.test", "A");
        assert.equal(ext.answer[0]?.data, "192.0.2.80");
      }
      const ptr = await dig({ host: s.localIp, port: s.port }, "5.0.0.10.in-addr.arpa", "PTR");
      assert.equal(ptr.answer[0]?.data, "web.default.svc.cluster.local.");
      assert.ok((await s.kubeDns.queryCount("web.default.svc.cluster.local.", "A")) >= 1);
      assert.ok((await s.nodeDns.queryCount("www.example.test.", "A")) >= 1);
      // The second ask is a cache hit (cache { success 9984 30 }).
      await dig({ host: s.localIp, port: s.port }, "web.default.svc.cluster.local", "A");
      assert.equal(await s.kubeDns.queryCount("web.default.svc.cluster.local.", "A"), 1);
    });

    test("loop probes went through every block to its upstream, and found no loop", async () => {
      await s.kubeDns.waitForQueries(1, undefined, "HINFO", 5000);
      const probes = (await s.kubeDns.queryLog()).filter((q) => q.type === "HINFO").map((q) => q.name);
      assert.ok(
        probes.some((n) => /^\d{8,}\.\d{8,}\.cluster\.local\.$/.test(n)),
        probes.join(" "),
      );
      await s.nodeDns.waitForQueries(1, undefined, "HINFO", 5000);
      assert.doesNotMatch(s.daemon.output(), /Loop .* detected/);
    });

    test("health on __PILLAR__LOCAL__DNS__:<health port>, prometheus and node-cache metrics", async () => {
      assert.equal((await fetch(`http://${s.localIp}:${s.healthPort}/health`)).status, 200);
      assert.equal(
        await metric(s.metrics, /^coredns_nodecache_setup_errors_total\{errortype="configmap"\}/),
        0,
      );
      assert.ok(
        ((await metric(s.prometheus, /^coredns_dns_requests_total\{.*zone="cluster\.local\."/)) ?? 0) >= 1,
      );
      assert.ok(s.daemon.isRunning());
    });

    if (!operatorEdits) return;

    test("the added template answers search-path junk at once; real cluster names still reach kube-dns", async () => {
      await s.kubeDns.clearQueryLog();
      const junk = await dig(
        { host: s.localIp, port: s.port },
        "www.example.com.default.svc.cluster.local",
        "A",
      );
      assert.equal(junk.rcode, "NXDOMAIN");
      assert.ok(junk.flags.includes("aa"));
      assert.equal(await s.kubeDns.queryCount("www.example.com.default.svc.cluster.local.", "A"), 0);
      const web = await dig({ host: s.dnsServerIp, port: s.port }, "web.default.svc.cluster.local", "AAAA");
      assert.equal(web.rcode, "NOERROR");
    });

    test("the added rewrite answers the renamed service under its old name", async () => {
      const old = await dig({ host: s.localIp, port: s.port }, "old-web.default.svc.cluster.local", "A");
      assert.deepEqual(
        old.answer.map((r) => [r.name, r.data]),
        [["old-web.default.svc.cluster.local.", "10.0.0.5"]],
      );
    });

    test("the added hosts block answers its names; the rest still goes to the node's upstream", async () => {
      const inline = await dig({ host: s.localIp, port: s.port }, "registry.node.test", "A");
      assert.equal(inline.answer[0]?.data, "192.0.2.44");
      const file = await dig({ host: s.dnsServerIp, port: s.port }, "files.node.test", "A");
      assert.equal(file.answer[0]?.data, "192.0.2.45");
      const ext = await dig({ host: s.localIp, port: s.port }, "www.example.test", "A");
      assert.equal(ext.answer[0]?.data, "192.0.2.80");
    });
  });
}
