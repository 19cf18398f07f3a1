// Cluster records end to end: the real daemon watching a fake API server (real list/watch protocol),
// dig as the client, unbound playing kube-dns for what the index does not answer.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  dig,
  freePort,
  soaRecord,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";
import {
  endpointSliceJson,
  FakeKubeApi,
  namespaceJson,
  podJson,
  serviceJson,
} from "./support/kubeapi-server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

describe("in-process cluster records through the daemon", () => {
  const api = new FakeKubeApi();
  let kubeDns: Upstream;
  let server: { host: string; port: number };
  let readyUrl: string;
  let metricsUrl: string;
  const client = uniqueLoopback(); // the "pod" source address for autopath

  before(async () => {
    api.refuse = true; // the API is unreachable when the daemon starts
    await api.start();
    api.create("namespace", namespaceJson("default"));
    api.create("namespace", namespaceJson("ns1"));
    api.create("service", serviceJson("default", "kubernetes", { clusterIP: "10.96.0.1" }));
    api.create(
      "service",
      serviceJson("ns1", "web", {
        clusterIPs: ["10.0.0.10", "fd00::10"],
        ports: [{ name: "http", protocol: "TCP", port: 80 }],
      }),
    );
    api.create(
      "service",
      serviceJson("ns1", "db", { clusterIP: "None", ports: [{ name: "pg", protocol: "TCP", port: 5432 }] }),
    );
    api.create(
      "endpointslice",
      endpointSliceJson(
        "ns1",
        "db-1",
        "db",
        [{ ip: "10.1.0.5", hostname: "db-0" }, { ip: "10.1.0.6" }, { ip: "10.1.0.7", ready: false }],
        [{ name: "pg", protocol: "TCP", port: 5432 }],
      ),
    );
    api.create(
      "service",
      serviceJson("ns1", "ext", { type: "ExternalName", externalName: "www.example.test" }),
    );
    api.create("pod", podJson("ns1", "client", [client], "node-1"));

    kubeDns = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("cluster.local"),
        "web.ns1.svc.cluster.local. 30 IN A 10.0.0.99",
        soaRecord("example.test"),
        "www.example.test. 300 IN A 192.0.2.44",
        "example.test. 300 IN A 192.0.2.45",
      ],
    });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    readyUrl = `http://${host}:${await freePort(host)}/ready`;
    metricsUrl = `http://${host}:${await freePort(host)}/metrics`;
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
}
.:${server.port} {
    bind ${host}
    cache 30
    forward . ${kubeDns.host}:${kubeDns.port}
}
`,
      env: { NODE_NAME: "node-1" },
      readyProbe: server,
    });
  });

  after(async () => {
    await api.stop();
    await cleanupAll();
  });

  test("API unreachable at start: cluster names go to kube-dns (no SERVFAIL), /ready is 503", async () => {
    const r = await dig(server, "web.ns1.svc.cluster.local");
    assert.equal(r.rcode, "NOERROR");
    assert.equal(r.answer[0]!.data, "10.0.0.99", "kube-dns's answer before the first sync");
    assert.equal((await fetch(readyUrl)).status, 503);
    api.refuse = false;
    await until(
      "ready",
      async () => (await fetch(readyUrl)).status,
      (s) => s === 200,
      15_000,
    );
    const after = await dig(server, "web.ns1.svc.cluster.local");
    assert.equal(
      after.answer[0]!.data,
      "10.0.0.10",
      "the index answers once synced; kube-dns's cached answer is gone",
    );
    assert.ok(after.flags.includes("aa"));
  });

  test("every record form through dig", async () => {
    const aaaa = await dig(server, "WEB.ns1.svc.cluster.local", "AAAA");
    assert.deepEqual(
      aaaa.answer.map((a) => a.data),
      ["fd00::10"],
    );
    assert.equal(aaaa.answer[0]!.name, "WEB.ns1.svc.cluster.local.");
    assert.equal(aaaa.answer[0]!.ttl, 5);
    const srv = await dig(server, "_http._tcp.web.ns1.svc.cluster.local", "SRV");
    // One SRV per target and port; the weight splits 100 over both ClusterIPs, as CoreDNS does.
    assert.equal(srv.answer.length, 1);
    assert.match(srv.answer[0]!.data, /^0 50 80 web\.ns1\.svc\.cluster\.local\.$/);
    assert.ok(
      srv.additional.some((a) => a.type === "A" && a.data === "10.0.0.10"),
      "A glue",
    );
    const headless = await dig(server, "db.ns1.svc.cluster.local");
    assert.deepEqual(headless.answer.map((a) => a.data).sort(), ["10.1.0.5", "10.1.0.6"]);
    assert.equal((await dig(server, "db-0.db.ns1.svc.cluster.local")).answer[0]!.data, "10.1.0.5");
    assert.equal((await dig(server, "10-1-0-6.db.ns1.svc.cluster.local")).answer[0]!.data, "10.1.0.6");
    const hsrv = await dig(server, "_pg._tcp.db.ns1.svc.cluster.local", "SRV");
    assert.equal(hsrv.answer.length, 2);
    const txt = await dig(server, "dns-version.cluster.local", "TXT");
    assert.equal(txt.answer[0]!.data, '"1.1.0"');
    const ptr = await dig(server, "10.0.0.10.in-addr.arpa", "PTR");
    assert.equal(ptr.answer[0]!.data, "web.ns1.svc.cluster.local.");
    const ptr6 = await dig(
      server,
      "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
      "PTR",
    );
    assert.equal(ptr6.answer[0]!.data, "web.ns1.svc.cluster.local.");
    const ext = await dig(server, "ext.ns1.svc.cluster.local");
    assert.deepEqual(
      ext.answer.map((a) => `${a.type} ${a.data}`),
      ["CNAME www.example.test.", "A 192.0.2.44"],
    );
    const pod = await dig(server, `${client.replaceAll(".", "-")}.ns1.pod.cluster.local`);
    assert.equal(pod.answer[0]!.data, client);
    const nx = await dig(server, "nope.ns1.svc.cluster.local");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.authority[0]!.type, "SOA");
    assert.ok(nx.flags.includes("aa"));
    const nodata = await dig(server, "ns1.svc.cluster.local");
    assert.equal(nodata.rcode, "NOERROR");
    assert.equal(nodata.answer.length, 0);
    assert.equal(nodata.authority[0]!.type, "SOA");
    const nodataType = await dig(server, "web.ns1.svc.cluster.local", "MX");
    assert.equal(nodataType.rcode, "NOERROR");
    assert.equal(nodataType.answer.length, 0);
  });

  test("a Service created, changed and deleted while queries run shows within a second", async () => {
    const name = "late.ns1.svc.cluster.local";
    assert.equal((await dig(server, name)).rcode, "NXDOMAIN");
    const created = Date.now();
    api.create("service", serviceJson("ns1", "late", { clusterIP: "10.0.0.77" }));
    await until(
      "created",
      () => dig(server, name),
      (r) => r.answer[0]?.data === "10.0.0.77",
      1000,
    );
    assert.ok(Date.now() - created < 1000);
    api.update("service", serviceJson("ns1", "late", { clusterIP: "10.0.0.78" }));
    await until(
      "changed",
      () => dig(server, name),
      (r) => r.answer[0]?.data === "10.0.0.78",
      1000,
    );
    api.remove("service", "ns1", "late");
    await until(
      "deleted",
      () => dig(server, name),
      (r) => r.rcode === "NXDOMAIN",
      1000,
    );
  });

  test("watch killed and 410 Gone: no stale records after resume", async () => {
    api.create("service", serviceJson("ns1", "gone", { clusterIP: "10.0.0.88" }));
    await until(
      "gone created",
      () => dig(server, "gone.ns1.svc.cluster.local"),
      (r) => r.answer.length === 1,
    );
    api.dropWatches();
    api.remove("service", "ns1", "gone");
    api.create("service", serviceJson("ns1", "fresh", { clusterIP: "10.0.0.89" }));
    api.compact(); // the resume finds its resourceVersion compacted: 410, relist
    api.dropWatches();
    await until(
      "gone removed",
      () => dig(server, "gone.ns1.svc.cluster.local"),
      (r) => r.rcode === "NXDOMAIN",
      10_000,
    );
    assert.equal((await dig(server, "fresh.ns1.svc.cluster.local")).answer[0]?.data, "10.0.0.89");
    const metrics = await (await fetch(metricsUrl)).text();
    assert.match(metrics, /coredns_kubernetes_watch_restarts_total\{resource="service"\} [1-9]/);
    assert.match(metrics, /coredns_kubernetes_watch_synced\{resource="service"\} 1/);
  });

  test("autopath: a pod in ns1 asking kubernetes.default and example.test gets one answer each", async () => {
    const fromPod = { extraArgs: ["-b", client] };
    const k = await dig(server, "kubernetes.default.ns1.svc.cluster.local", "A", fromPod);
    assert.equal(k.rcode, "NOERROR");
    assert.deepEqual(
      k.answer.map((a) => `${a.name} ${a.type} ${a.data}`),
      [
        "kubernetes.default.ns1.svc.cluster.local. CNAME kubernetes.default.svc.cluster.local.",
        "kubernetes.default.svc.cluster.local. A 10.96.0.1",
      ],
    );
    const e = await dig(server, "example.test.ns1.svc.cluster.local", "A", fromPod);
    assert.deepEqual(
      e.answer.map((a) => `${a.type} ${a.data}`),
      ["CNAME example.test.", "A 192.0.2.45"],
    );
    const stranger = await dig(server, "kubernetes.default.default.svc.cluster.local");
    assert.equal(stranger.rcode, "NXDOMAIN", "no autopath for an address that is not a pod of this node");
  });
});
