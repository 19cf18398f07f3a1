// `explain` and `cache show/flush` end to end: the real daemon (a full-variant Corefile: kubernetes,
// autopath, kube-dns and the node's upstream played by unbound) watching the test API server, asked
// by the real CLI (`node dist/main.js explain ...`). Each README troubleshooting case is checked
// through its --json output; nothing changes without --live; -workers N answers through the primary.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CacheListing, ExplainReport } from "../src/explain/index.ts";
import {
  cleanupAll,
  cli,
  dig,
  freePort,
  soaRecord,
  startDaemon,
  startUnbound,
  tempDir,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";
import { FakeKubeApi, namespaceJson, podJson, serviceJson } from "./support/kubeapi-server.ts";

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a lookup could change: query, cache and upstream counters (not the process's own). */
async function counters(metricsUrl: string): Promise<string[]> {
  const text = await (await fetch(metricsUrl)).text();
  return text
    .split("\n")
    .filter((l) =>
      /^coredns_(dns_requests_total|dns_responses_total|cache_|proxy_request_duration_seconds_count)/.test(l),
    )
    .sort();
}

/** The cache's entries without what time alone changes (TTL left, staleness). */
function entriesOf(listing: CacheListing): string[] {
  return listing.caches.flatMap((c) =>
    c.entries.map((e) => `${c.block} ${e.name} ${e.type} ${e.rcode} ${e.hits}`),
  );
}

describe("explain and cache through the daemon's debug endpoint", () => {
  const api = new FakeKubeApi();
  let kubeDns: Upstream;
  let upstream: Upstream;
  let server: { host: string; port: number };
  let explainAt: string;
  let metricsUrl: string;
  const dnsutils = uniqueLoopback(); // a pod in `default`
  const client = uniqueLoopback(); // a pod in `ns1`

  const explain = async (...args: string[]): Promise<ExplainReport> => {
    const run = await cli(["explain", ...args, "--json", "--server", explainAt]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as ExplainReport;
  };
  const cacheShow = async (name: string): Promise<CacheListing> => {
    const run = await cli(["cache", "show", name, "--json", "--server", explainAt]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as CacheListing;
  };

  before(async () => {
    await api.start();
    for (const ns of ["default", "ns1", "kube-system"]) api.create("namespace", namespaceJson(ns));
    api.create("service", serviceJson("default", "kubernetes", { clusterIP: "10.96.0.1" }));
    api.create("service", serviceJson("ns1", "web", { clusterIP: "10.0.0.10" }));
    api.create(
      "service",
      serviceJson("ns1", "ext", { type: "ExternalName", externalName: "www.example.test" }),
    );
    api.create("pod", podJson("default", "dnsutils", [dnsutils], "node-1"));
    api.create("pod", podJson("ns1", "client", [client], "node-1"));
    // kube-dns answers the cluster zone and, like CoreDNS, forwards the rest (here: knows it).
    const outside = [soaRecord("example.test"), "www.example.test. 300 IN A 192.0.2.44"];
    kubeDns = await startUnbound({
      host: uniqueLoopback(),
      records: [soaRecord("cluster.local"), ...outside],
      rootZone: "static",
    });
    upstream = await startUnbound({ host: uniqueLoopback(), records: outside, rootZone: "static" });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    explainAt = `${host}:${await freePort(host)}`;
    metricsUrl = `http://${host}:${await freePort(host)}/metrics`;
    const readyUrl = `http://${host}:${await freePort(host)}/ready`;
    const dir = await tempDir("nldns-explain-");
    await writeFile(join(dir, "resolv.conf"), "nameserver 127.0.0.1\n");
    await startDaemon({
      corefile: `cluster.local:${server.port} in-addr.arpa:${server.port} ip6.arpa:${server.port} {
    bind ${host}
    cache {
        success 9984 30
        denial 9984 5
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        endpoint ${api.url}
        pods verified
        ttl 5
    }
    autopath @kubernetes
    forward . ${kubeDns.host}:${kubeDns.port} {
        force_tcp
    }
    prometheus ${new URL(metricsUrl).host}
    ready ${new URL(readyUrl).host}
    explain ${explainAt}
}
.:${server.port} {
    bind ${host}
    cache 30
    forward . ${upstream.host}:${upstream.port}
    prometheus ${new URL(metricsUrl).host}
}
`,
      env: { NODE_NAME: "node-1", NODELOCALDNS_RESOLV_CONF: join(dir, "resolv.conf") },
      readyProbe: server,
    });
    await until("ready", async () => (await fetch(readyUrl)).status === 200);
  });

  after(async () => {
    await api.stop();
    await cleanupAll();
  });

  test("a short Service name from another namespace: NXDOMAIN, every search name asked", async () => {
    const report = await explain("web", "--pod", "default/dnsutils", "--live");
    assert.deepEqual(report.client, { ip: dnsutils, namespace: "default", pod: "dnsutils", known: true });
    assert.deepEqual(report.search, ["default.svc.cluster.local.", "svc.cluster.local.", "cluster.local."]);
    assert.equal(report.ndots, 5);
    assert.deepEqual(
      report.steps.map((s) => [s.name, s.answeredBy, s.rcode]),
      [
        ["web.default.svc.cluster.local.", "autopath", "NXDOMAIN"],
        ["web.svc.cluster.local.", "kubernetes", "NXDOMAIN"],
        ["web.cluster.local.", "kubernetes", "NXDOMAIN"],
        ["web.", "forward", "NXDOMAIN"],
      ],
    );
    assert.equal(report.steps[3]!.upstream, `${upstream.host}:${upstream.port}`);
    assert.equal(report.steps[3]!.asked, true);
    assert.equal(typeof report.steps[3]!.ms, "number");
    assert.deepEqual(report.final, { rcode: "NXDOMAIN", answers: [] });
    assert.equal(report.autopathSaved, 0);
    // The fix: qualify the name with its namespace; autopath finds it on the server side.
    const fixed = await explain("web.ns1", "--pod", "default/dnsutils");
    assert.equal(fixed.live, false);
    assert.equal(fixed.steps.length, 1);
    assert.equal(fixed.steps[0]!.answeredBy, "autopath");
    assert.deepEqual(
      fixed.steps[0]!.autopath!.map((s) => [s.name, s.answeredBy, s.rcode]),
      [["web.ns1.svc.cluster.local.", "kubernetes", "NOERROR"]],
    );
    assert.deepEqual(fixed.final, {
      rcode: "NOERROR",
      answers: [
        "web.ns1.default.svc.cluster.local. 5 CNAME web.ns1.svc.cluster.local.",
        "web.ns1.svc.cluster.local. 5 A 10.0.0.10",
      ],
    });
    assert.equal(fixed.autopathSaved, 1);
  });

  test("kubernetes.default from another namespace: autopath answers the first query", async () => {
    const report = await explain("kubernetes.default", "--pod", "ns1/client");
    assert.equal(report.steps.length, 1);
    assert.equal(report.steps[0]!.name, "kubernetes.default.ns1.svc.cluster.local.");
    assert.equal(report.steps[0]!.block, "cluster.local. in-addr.arpa. ip6.arpa.");
    assert.equal(report.steps[0]!.answeredBy, "autopath");
    assert.equal(report.final.rcode, "NOERROR");
    assert.ok(report.final.answers.includes("kubernetes.default.svc.cluster.local. 5 A 10.96.0.1"));
    assert.equal(report.autopathSaved, 1);
    // From the pod's own namespace the first search name is the service itself.
    const home = await explain("kubernetes", "--client", dnsutils);
    assert.equal(home.client.pod, "dnsutils");
    assert.deepEqual(
      home.steps.map((s) => [s.name, s.answeredBy, s.rcode, s.ttl]),
      [["kubernetes.default.svc.cluster.local.", "kubernetes", "NOERROR", 5]],
    );
  });

  test("an external name under ndots:5: three cluster names first; live, autopath saves them", async () => {
    const looked = await explain("www.example.test", "--pod", "default/dnsutils");
    assert.equal(looked.steps.length, 1);
    const tried = looked.steps[0]!.autopath!;
    assert.deepEqual(
      tried.map((s) => [s.name, s.answeredBy, s.rcode]),
      [
        ["www.example.test.svc.cluster.local.", "kubernetes", "NXDOMAIN"],
        ["www.example.test.cluster.local.", "kubernetes", "NXDOMAIN"],
        ["www.example.test.", "forward", null],
      ],
    );
    assert.equal(tried[2]!.upstream, `${kubeDns.host}:${kubeDns.port}`);
    assert.equal(tried[2]!.asked, false);
    assert.equal(looked.final.rcode, null, "not known without asking");
    assert.deepEqual(looked.notAsked, [
      "www.example.test.svc.cluster.local.",
      "www.example.test.cluster.local.",
      "www.example.test.",
    ]);

    const live = await explain("www.example.test", "--pod", "default/dnsutils", "--live");
    assert.equal(live.steps.length, 1);
    assert.equal(live.steps[0]!.answeredBy, "autopath");
    assert.deepEqual(live.final.answers, [
      // cached as it passed (success capped at 30 s): TTLs as the cache serves them
      "www.example.test.default.svc.cluster.local. 30 CNAME www.example.test.",
      "www.example.test. 30 A 192.0.2.44",
    ]);
    assert.equal(live.autopathSaved, 3);
    assert.ok((await kubeDns.queryCount("www.example.test.", "A")) >= 1, "asked kube-dns for real");
    // The autopath answer is cached: the next look shows the hit and its TTL left.
    const cached = await explain("www.example.test", "--pod", "default/dnsutils");
    assert.equal(cached.steps[0]!.answeredBy, "cache");
    assert.equal(cached.steps[0]!.kind, "success");
    assert.equal(cached.steps[0]!.stale, false);
    assert.ok(cached.steps[0]!.ttl! > 0 && cached.steps[0]!.ttl! <= 30, `ttl ${cached.steps[0]!.ttl}`);
    assert.equal(cached.final.rcode, "NOERROR");
  });

  test("a pod record: 4 dots, fewer than ndots, so the search list comes first", async () => {
    const name = `${client.replaceAll(".", "-")}.ns1.pod.cluster.local`;
    const report = await explain(name);
    assert.equal(report.client.namespace, "default");
    assert.equal(report.order[0], `${name}.default.svc.cluster.local.`);
    assert.equal(report.order.at(-1), `${name}.`);
    assert.deepEqual(
      report.steps.map((s) => [s.name, s.answeredBy, s.rcode]),
      [[`${name}.default.svc.cluster.local.`, "autopath", "NOERROR"]],
    );
    assert.deepEqual(report.final.answers, [
      `${name}.default.svc.cluster.local. 5 CNAME ${name}.`,
      `${name}. 5 A ${client}`,
    ]);
    assert.equal(report.autopathSaved, 3);
    // With a trailing dot the resolver asks the name alone.
    const direct = await explain(`${name}.`);
    assert.deepEqual(
      direct.steps.map((s) => [s.name, s.answeredBy, s.rcode]),
      [[`${name}.`, "kubernetes", "NOERROR"]],
    );
    assert.deepEqual(direct.final.answers, [`${name}. 5 A ${client}`]);
  });

  test("a cached NXDOMAIN: explain shows the entry, cache show lists it, cache flush drops it", async () => {
    const name = "later.example.test";
    assert.equal((await dig(server, name)).rcode, "NXDOMAIN");
    const before = await explain(`${name}.`);
    assert.deepEqual(
      before.steps.map((s) => [s.name, s.answeredBy, s.rcode, s.kind, s.stale]),
      [[`${name}.`, "cache", "NXDOMAIN", "denial", false]],
    );
    assert.ok(before.steps[0]!.ttl! > 0);
    const listing = await cacheShow("example.test");
    const entry = listing.caches.flatMap((c) => c.entries).find((e) => e.name === `${name}.`);
    assert.ok(entry, JSON.stringify(listing));
    assert.equal(entry.rcode, "NXDOMAIN");
    assert.equal(entry.kind, "denial");
    assert.equal(entry.hits, 0);
    const flush = await cli(["cache", "flush", name, "--json", "--server", explainAt]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.deepEqual(JSON.parse(flush.stdout), { flushed: 1 });
    const afterFlush = await explain(`${name}.`);
    assert.equal(afterFlush.steps[0]!.answeredBy, "forward");
    assert.equal(afterFlush.steps[0]!.asked, false);
    assert.equal(afterFlush.steps[0]!.upstream, `${upstream.host}:${upstream.port}`);
    assert.equal((await cacheShow(name)).caches.flatMap((c) => c.entries).length, 0);
  });

  test("without --live nothing changes: cache entries, metrics, upstream queries", async () => {
    // Start from fresh entries, so none expires between the two looks.
    assert.equal((await cli(["cache", "flush", ".", "--server", explainAt])).code, 0);
    await dig(server, "www.example.test."); // something cached in the `.` block
    const cacheBefore = entriesOf(await cacheShow("."));
    const metricsBefore = await counters(metricsUrl);
    const upstreamBefore = [await upstream.queryCount(), await kubeDns.queryCount()];
    for (const args of [
      ["www.example.test."],
      ["www.example.test", "--pod", "ns1/client"],
      ["nothing-here.example.test", "--client", dnsutils],
      ["web.ns1", "--type", "AAAA"],
      ["web", "--pod", "default/dnsutils"],
      ["ext.ns1.svc.cluster.local."],
    ]) {
      await explain(...args);
    }
    // An ExternalName is shown as its CNAME: resolving the target would be a query through the daemon.
    const ext = await explain("ext.ns1.svc.cluster.local.");
    assert.deepEqual(ext.final.answers, ["ext.ns1.svc.cluster.local. 5 CNAME www.example.test."]);
    assert.match(ext.steps[0]!.note, /ExternalName/);
    assert.deepEqual(entriesOf(await cacheShow(".")), cacheBefore, "cache entries and hit counts");
    assert.deepEqual(await counters(metricsUrl), metricsBefore, "query, cache and upstream metrics");
    assert.deepEqual([await upstream.queryCount(), await kubeDns.queryCount()], upstreamBefore);
    // --live is a real query, counted like any other.
    await explain("www.example.test.", "--live");
    assert.notDeepEqual(await counters(metricsUrl), metricsBefore);
  });

  test("text output, and the CLI's errors", async () => {
    const text = await cli(["explain", "web.ns1", "--pod", "default/dnsutils", "--server", explainAt]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /search: default\.svc\.cluster\.local\. svc\.cluster\.local\. cluster\.local\.\s+ndots: 5/,
    );
    assert.match(text.stdout, /autopath saved 1 query/);
    const missing = await cli(["explain", "x", "--pod", "default/nobody", "--server", explainAt]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HTTP 404: pod default\/nobody is not a running pod of this node/);
    const usage = await cli(["explain", "--server", explainAt]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: nodelocaldns explain NAME/);
    const off = await cli(["cache", "show", "x", "--server", `${server.host}:1`]);
    assert.equal(off.code, 1);
    assert.match(off.stderr, /nothing listens at .*explain/);
  });
});
