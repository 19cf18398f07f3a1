// -workers N with a `kubernetes` block: the node opens one API watch per resource whatever N is
// (the primary watches and feeds the workers' indexes), every worker answers from an index that
// follows the watch, and a worker killed and replaced resyncs from the primary without a new list.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  childPids,
  cleanupAll,
  defaultHandler,
  freePort,
  query,
  startDaemon,
  startFakeUpstream,
  uniqueLoopback,
} from "./support/index.ts";
import { FakeKubeApi, namespaceJson, serviceJson } from "./support/kubeapi-server.ts";

const WORKERS = 3;
/** Queries from this many fresh source ports reach every worker (SO_REUSEPORT hashes the 4-tuple). */
const SPREAD = 48;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("one API watch per node with several workers", () => {
  const api = new FakeKubeApi();
  let server: { host: string; port: number };
  let readyUrl: string;
  let daemon: Awaited<ReturnType<typeof startDaemon>>;

  /** The answers of SPREAD queries for `name`, one per source port: "NXDOMAIN" or the address. */
  async function answers(name: string): Promise<Set<string>> {
    const seen = new Set<string>();
    await Promise.all(
      Array.from({ length: SPREAD }, async () => {
        const r = await query(server, name, "A", { timeoutMs: 3000 });
        const a = r.packet.answers?.find((x) => x.type === "A") as { data: string } | undefined;
        seen.add(a === undefined ? r.rcode : a.data);
      }),
    );
    return seen;
  }

  const requestsOf = (resource: string, watch: boolean) =>
    api.requests.filter((u) => u.includes(resource) && u.includes("watch=1") === watch).length;

  function assertOneWatchEach(lists: number): void {
    for (const resource of ["/api/v1/services", "/endpointslices", "/api/v1/namespaces"]) {
      assert.equal(requestsOf(resource, true), 1, `one watch request for ${resource}: ${api.requests}`);
      assert.equal(requestsOf(resource, false), lists, `${lists} list request(s) for ${resource}`);
    }
    assert.equal(api.watching("service"), 1);
    assert.equal(api.watching("endpointslice"), 1);
    assert.equal(api.watching("namespace"), 1);
  }

  before(async () => {
    await api.start();
    api.create("namespace", namespaceJson("default"));
    api.create("service", serviceJson("default", "web", { clusterIP: "10.0.0.10" }));
    const kubeDns = await startFakeUpstream({ host: uniqueLoopback(), handler: defaultHandler });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    const readyPort = await freePort(host);
    readyUrl = `http://${host}:${readyPort}/ready`;
    daemon = await startDaemon({
      corefile: `cluster.local:${server.port} {
    bind ${host}
    cache 30
    kubernetes cluster.local {
        endpoint ${api.url}
        ttl 5
    }
    forward . ${kubeDns.host}:${kubeDns.port}
    ready ${host}:${readyPort}
}
`,
      args: ["-workers", String(WORKERS)],
      readyProbe: server,
      readyTimeoutMs: 30_000, // three processes starting on a busy node
    });
    await daemon.waitForLine(new RegExp(`${WORKERS} workers serving`), 30_000);
    await until("ready", async () => (await fetch(readyUrl)).status === 200, 30_000);
  });

  after(async () => {
    await api.stop();
    await cleanupAll();
  });

  test("every worker answers from the index; the API saw one list and one watch per resource", async () => {
    assert.deepEqual([...(await answers("web.default.svc.cluster.local"))], ["10.0.0.10"]);
    assertOneWatchEach(1);
  });

  test("a change reaches every worker and drops their cached answers", async () => {
    assert.deepEqual([...(await answers("late.default.svc.cluster.local"))], ["NXDOMAIN"]);
    api.create("service", serviceJson("default", "late", { clusterIP: "10.0.0.20" }));
    await until("every worker answers the new service", async () => {
      const seen = await answers("late.default.svc.cluster.local");
      return seen.size === 1 && seen.has("10.0.0.20");
    });
    assertOneWatchEach(1);
  });

  test("a killed worker's replacement resyncs from the primary: no new list or watch", async () => {
    const [victim] = childPids(daemon.pid);
    assert.ok(victim, "a worker process");
    process.kill(victim, "SIGKILL");
    await daemon.waitForLine(/worker died; starting another/, 5000);
    await until(
      "a replacement worker",
      () => childPids(daemon.pid).filter((p) => p !== victim).length === WORKERS,
    );
    await until("ready again", async () => (await fetch(readyUrl)).status === 200);
    const late = await answers("late.default.svc.cluster.local");
    assert.deepEqual([...late], ["10.0.0.20"], "the replacement knows what was created before it started");
    api.update("service", serviceJson("default", "web", { clusterIP: "10.0.0.11" }));
    await until("every worker, the new one too, follows a change", async () => {
      const seen = await answers("web.default.svc.cluster.local");
      return seen.size === 1 && seen.has("10.0.0.11");
    });
    assertOneWatchEach(1);
  });
});
