// The whole path short of sockets for DNS: fake API server -> reflectors -> ClusterRecords -> answers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClusterRecords } from "../src/cluster/index.ts";
import { startWatch } from "../src/kubeapi/index.ts";
import { ask, kubeConfig, rcodeOf } from "./support/cluster-fixtures.ts";
import {
  endpointSliceJson,
  FakeKubeApi,
  namespaceJson,
  podJson,
  serviceJson,
} from "./support/kubeapi-server.ts";

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("watch feeding cluster records", () => {
  test("sync, live changes, relist after 410, labels and node pods", async () => {
    const api = new FakeKubeApi();
    await api.start();
    api.create("namespace", namespaceJson("default"));
    api.create("service", serviceJson("default", "web", { clusterIP: "10.0.0.10" }, { app: "web" }));
    api.create("service", serviceJson("default", "hidden", { clusterIP: "10.0.0.11" }, { app: "other" }));
    api.create("service", serviceJson("default", "hl", { clusterIP: "None" }, { app: "web" }));
    const slice = endpointSliceJson("default", "hl-1", "hl", [
      { ip: "10.1.0.1", hostname: "pet" },
      { ip: "10.1.0.2", ready: false },
    ]);
    slice.metadata.labels.app = "web";
    api.create("endpointslice", slice);
    api.create("pod", podJson("default", "client", ["10.1.0.50"], "node-1"));
    api.create("pod", podJson("default", "elsewhere", ["10.2.0.50"], "node-2"));

    const config = kubeConfig({ endpoint: api.url, labels: "app=web", pods: "verified" });
    const records = new ClusterRecords(config, { now: Date.now, resolve: async () => null, autopath: true });
    const changes: string[] = [];
    records.onChange((names) => changes.push(...names));
    const firstSyncs: string[] = [];
    const watch = startWatch({
      config,
      kinds: records.kinds,
      nodeName: "node-1",
      sink: (e) => records.apply(e),
      connection: { tokenFile: "/nonexistent/token", caFile: "/nonexistent/ca" },
      timing: { backoffInitialMs: 30, backoffMaxMs: 300, silenceMs: 5000 },
      observer: { objects() {}, synced() {}, restarted() {}, firstSync: (k) => firstSyncs.push(k) },
    });
    try {
      await until("synced", () => records.synced);
      assert.deepEqual(firstSyncs.sort(), ["endpointslice", "namespace", "pod", "service"]);
      assert.equal(rcodeOf((await ask(records, "web.default.svc.cluster.local", "A"))!), "NOERROR");
      assert.equal(
        rcodeOf((await ask(records, "hidden.default.svc.cluster.local", "A"))!),
        "NXDOMAIN",
        "labels filter",
      );
      const hl = await ask(records, "hl.default.svc.cluster.local", "A");
      assert.deepEqual(
        hl!.answers!.map((a) => a.data),
        ["10.1.0.1"],
        "only the ready endpoint",
      );
      assert.equal(records.stats().pods, 1, "only this node's pods");
      assert.equal(rcodeOf((await ask(records, "10-1-0-50.default.pod.cluster.local", "A"))!), "NOERROR");

      await until("watching", () => api.watching() === 4);
      api.create("service", serviceJson("default", "fresh", { clusterIP: "10.0.0.12" }, { app: "web" }));
      await until("new service announced", () => changes.includes("fresh.default.svc.cluster.local."));
      assert.equal(rcodeOf((await ask(records, "fresh.default.svc.cluster.local", "A"))!), "NOERROR");

      // Miss a delete while muted, then the history is compacted: relist must remove it.
      api.muteWatches();
      api.remove("service", "default", "web");
      api.compact();
      api.dropWatches();
      await until(
        "relist removed web",
        async () => rcodeOf((await ask(records, "web.default.svc.cluster.local", "A"))!) === "NXDOMAIN",
      );
      assert.ok(changes.includes("web.default.svc.cluster.local."));
      assert.equal(watch.state().service!.restarts >= 1, true);
    } finally {
      await watch.stop();
      await api.stop();
    }
  });
});
