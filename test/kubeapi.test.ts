import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type ClusterEvent,
  connect,
  RESOURCE_PATHS,
  Reflector,
  type ReflectorTiming,
  type ResourceKind,
  resolveCredentials,
} from "../src/kubeapi/index.ts";
import {
  endpointSliceJson,
  FakeKubeApi,
  namespaceJson,
  podJson,
  serviceJson,
} from "./support/kubeapi-server.ts";

const FAST: Partial<ReflectorTiming> = {
  pageSize: 2,
  watchTimeoutSec: 30,
  silenceMs: 5000,
  requestTimeoutMs: 5000,
  backoffInitialMs: 30,
  backoffMaxMs: 300,
};

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "kubeapi-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The reflector's view of the world, built only from its events. */
class Mirror {
  readonly objects = new Map<string, string>();
  /** Completed lists (each ends with a prune). */
  replaces = 0;
  apply(event: ClusterEvent): void {
    if (event.type === "replace") {
      this.replaces++;
      this.objects.clear();
      for (const o of event.objects) this.objects.set(o.key, o.resourceVersion);
    } else if (event.type === "prune") {
      this.replaces++;
      for (const key of [...this.objects.keys()]) if (!event.keep.has(key)) this.objects.delete(key);
    } else if (event.type === "upsert") {
      this.objects.set(event.object.key, event.object.resourceVersion);
    } else {
      this.objects.delete(event.object.key);
    }
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function serverSet(
  api: FakeKubeApi,
  kind: "service" | "pod" | "namespace" | "endpointslice",
  filter = (_o: unknown) => true,
) {
  return new Map(
    api
      .list(kind)
      .filter(filter)
      .map((o) => [
        kind === "namespace" ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`,
        o.metadata.resourceVersion,
      ]),
  );
}

function reflector(
  api: FakeKubeApi,
  kind: ResourceKind,
  mirror: Mirror,
  timing: Partial<ReflectorTiming> = {},
  params: Record<string, string> = {},
) {
  const restarts: string[] = [];
  const connection = connect({
    endpoint: api.url,
    tokenFile: join(dir, "absent"),
    caFile: join(dir, "absent"),
  });
  const r = new Reflector({
    kind,
    path: RESOURCE_PATHS[kind],
    params,
    connection,
    sink: (e) => mirror.apply(e),
    timing: { ...FAST, ...timing },
    observer: {
      objects() {},
      synced() {},
      restarted: (_k, reason) => restarts.push(reason),
      firstSync() {},
    },
  });
  return {
    r,
    restarts,
    async stop() {
      await r.stop();
      connection.close();
    },
  };
}

function svc(api: FakeKubeApi, name: string, ip: string) {
  return api.create(
    "service",
    serviceJson("default", name, { clusterIP: ip, ports: [{ name: "http", port: 80, protocol: "TCP" }] }),
  );
}

describe("reflector against the fake API server", () => {
  test("lists in pages, then watches adds, updates and deletes", async () => {
    const api = new FakeKubeApi();
    await api.start();
    for (let i = 0; i < 5; i++) svc(api, `s${i}`, `10.0.0.${i + 1}`);
    const mirror = new Mirror();
    const { r, stop } = reflector(api, "service", mirror);
    try {
      r.start();
      await until("first sync", () => r.state.synced);
      assert.deepEqual(mirror.objects, serverSet(api, "service"));
      assert.ok(
        api.requests.some((u) => u.includes("continue=")),
        "list used continue tokens",
      );
      assert.ok(api.requests.some((u) => u.includes("limit=2")));
      await until("watch open", () => api.watching("service") === 1);
      const watchUrl = api.requests.find((u) => u.includes("watch=1"))!;
      assert.match(watchUrl, /allowWatchBookmarks=true/);
      assert.match(watchUrl, /timeoutSeconds=30/);
      assert.match(watchUrl, new RegExp(`resourceVersion=${r.state.resourceVersion}`));

      svc(api, "s9", "10.0.0.99");
      api.update("service", { ...api.list("service")[0], spec: { clusterIP: "10.0.1.1" } });
      api.remove("service", "default", "s2");
      await until(
        "watch events applied",
        () => mirror.objects.size === 5 && !mirror.objects.has("default/s2"),
      );
      assert.deepEqual(mirror.objects, serverSet(api, "service"));
      assert.equal(mirror.replaces, 1);
    } finally {
      await stop();
      await api.stop();
    }
  });

  test("bookmarks move the resourceVersion forward", async () => {
    const api = new FakeKubeApi();
    await api.start();
    const mirror = new Mirror();
    const { r, stop } = reflector(api, "service", mirror);
    try {
      r.start();
      await until("watch open", () => api.watching("service") === 1);
      svc(api, "other", "10.0.0.1");
      api.remove("service", "default", "other");
      await until("events", () => Number(r.state.resourceVersion) === api.resourceVersion);
      api.create("namespace", namespaceJson("unrelated")); // bumps the global resourceVersion only
      api.bookmark();
      await until("bookmark", () => Number(r.state.resourceVersion) === api.resourceVersion);
    } finally {
      await stop();
      await api.stop();
    }
  });

  for (const goneAsEvent of [true, false]) {
    test(`410 Gone (${goneAsEvent ? "ERROR event" : "HTTP status"}) relists and converges, deletions included`, async () => {
      const api = new FakeKubeApi();
      api.goneAsEvent = goneAsEvent;
      await api.start();
      for (let i = 0; i < 4; i++) svc(api, `s${i}`, `10.0.0.${i + 1}`);
      const mirror = new Mirror();
      const { r, restarts, stop } = reflector(api, "service", mirror);
      try {
        r.start();
        await until("watch open", () => api.watching("service") === 1);
        api.muteWatches(); // the client misses what follows
        api.remove("service", "default", "s0");
        api.remove("service", "default", "s1");
        svc(api, "new", "10.0.0.50");
        api.update("service", {
          ...api.list("service").find((o) => o.metadata.name === "s3"),
          spec: { clusterIP: "10.9.9.9" },
        });
        api.compact();
        api.dropWatches();
        await until("relist", () => mirror.replaces === 2);
        assert.deepEqual(mirror.objects, serverSet(api, "service"));
        assert.ok(restarts.includes("gone"), `restarts: ${restarts.join(", ")}`);
        await until("watching again", () => api.watching("service") === 1);
        svc(api, "after", "10.0.0.60");
        await until("event after relist", () => mirror.objects.has("default/after"));
      } finally {
        await stop();
        await api.stop();
      }
    });
  }

  test("a dropped watch resumes from the last resourceVersion without relisting", async () => {
    const api = new FakeKubeApi();
    await api.start();
    svc(api, "a", "10.0.0.1");
    const mirror = new Mirror();
    const { r, stop } = reflector(api, "service", mirror);
    try {
      r.start();
      await until("watch open", () => api.watching("service") === 1);
      const lastRv = r.state.resourceVersion;
      api.dropWatches();
      svc(api, "b", "10.0.0.2"); // happens while disconnected
      await until("resumed", () => mirror.objects.has("default/b"));
      assert.equal(mirror.replaces, 1, "no relist");
      const watches = api.requests.filter((u) => u.includes("watch=1"));
      assert.ok(watches.length >= 2);
      assert.match(watches[1]!, new RegExp(`resourceVersion=${lastRv}(&|$)`));
      assert.deepEqual(mirror.objects, serverSet(api, "service"));
    } finally {
      await stop();
      await api.stop();
    }
  });

  test("a silent watch is dropped after the deadline and resumed", async () => {
    const api = new FakeKubeApi();
    await api.start();
    const mirror = new Mirror();
    const { r, restarts, stop } = reflector(api, "service", mirror, { silenceMs: 400 });
    try {
      r.start();
      await until("watch open", () => api.watching("service") === 1);
      api.muteWatches();
      svc(api, "late", "10.0.0.7");
      await until("resumed after silence", () => mirror.objects.has("default/late"), 5000);
      assert.ok(
        restarts.some((m) => /no data/.test(m)),
        `restarts: ${restarts.join(", ")}`,
      );
      assert.equal(mirror.replaces, 1);
    } finally {
      await stop();
      await api.stop();
    }
  });

  test("API unreachable at start, reachable later: retries with backoff and syncs", async () => {
    const api = new FakeKubeApi();
    api.refuse = true;
    await api.start();
    svc(api, "x", "10.0.0.1");
    const mirror = new Mirror();
    const { r, restarts, stop } = reflector(api, "service", mirror);
    try {
      r.start();
      await until("some failures", () => restarts.length >= 2);
      assert.equal(r.state.synced, false);
      api.refuse = false;
      await until("synced", () => r.state.synced);
      assert.deepEqual(mirror.objects, serverSet(api, "service"));
    } finally {
      await stop();
      await api.stop();
    }
  });

  test("slow API responses still sync", async () => {
    const api = new FakeKubeApi();
    api.delayMs = 200;
    await api.start();
    svc(api, "x", "10.0.0.1");
    const mirror = new Mirror();
    const { r, stop } = reflector(api, "service", mirror);
    try {
      r.start();
      await until("synced", () => r.state.synced);
      assert.equal(mirror.objects.size, 1);
    } finally {
      await stop();
      await api.stop();
    }
  });

  test("pods are watched with the node's field selector; slices by label selector", async () => {
    const api = new FakeKubeApi();
    await api.start();
    api.create("pod", podJson("default", "mine", ["10.1.0.5"], "node-1"));
    api.create("pod", podJson("default", "theirs", ["10.2.0.5"], "node-2"));
    api.create("endpointslice", endpointSliceJson("default", "web-1", "web", [{ ip: "10.1.0.5" }]));
    const pods = new Mirror();
    const slices = new Mirror();
    const p = reflector(api, "pod", pods, {}, { fieldSelector: "spec.nodeName=node-1" });
    const s = reflector(
      api,
      "endpointslice",
      slices,
      {},
      { labelSelector: "kubernetes.io/service-name=web" },
    );
    try {
      p.r.start();
      s.r.start();
      await until("synced", () => p.r.state.synced && s.r.state.synced);
      assert.deepEqual([...pods.objects.keys()], ["default/mine"]);
      assert.deepEqual([...slices.objects.keys()], ["default/web-1"]);
      await until("watching", () => api.watching("pod") === 1);
      api.create("pod", podJson("default", "mine2", ["10.1.0.6"], "node-1"));
      api.create("pod", podJson("default", "theirs2", ["10.2.0.6"], "node-2"));
      await until("pod event", () => pods.objects.has("default/mine2"));
      assert.equal(pods.objects.has("default/theirs2"), false);
      assert.ok(
        api.requests.some(
          (u) => u.startsWith("/api/v1/pods?") && u.includes("fieldSelector=spec.nodeName%3Dnode-1"),
        ),
      );
    } finally {
      await p.stop();
      await s.stop();
      await api.stop();
    }
  });
});

describe("connection configuration", () => {
  test("in-cluster: server from env, CA and token files; missing env is a clear error", () => {
    const token = join(dir, "token");
    const ca = join(dir, "ca.crt");
    writeFileSync(token, "abc\n");
    writeFileSync(ca, "not really a cert");
    const creds = resolveCredentials({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      tokenFile: token,
      caFile: ca,
    });
    assert.equal(creds.server.href, "https://10.96.0.1/");
    assert.equal(creds.ca?.toString(), "not really a cert");
    const v6 = resolveCredentials({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" },
      tokenFile: token,
      caFile: ca,
    });
    assert.equal(v6.server.host, "[fd00::1]:6443");
    assert.throws(() => resolveCredentials({ env: {} }), /KUBERNETES_SERVICE_HOST/);
  });

  test("kubeconfig with a token file: the token is re-read when it rotates", async () => {
    const api = new FakeKubeApi();
    await api.start();
    api.requireToken = "one";
    const tokenPath = join(dir, "kube-token");
    writeFileSync(tokenPath, "one");
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: other",
        "clusters:",
        "- name: test",
        "  cluster:",
        `    server: ${api.url}`,
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: me",
        "  user:",
        "    tokenFile: kube-token",
        "contexts:",
        "- name: other",
        "  context: {cluster: nowhere, user: me}",
        "- name: test",
        "  context:",
        "    cluster: test",
        "    user: me",
      ].join("\n"),
    );
    assert.throws(
      () => resolveCredentials({ kubeconfig: { file: kubeconfig, context: null } }),
      /no cluster "nowhere"/,
    );
    const connection = connect({ kubeconfig: { file: kubeconfig, context: "test" } });
    const mirror = new Mirror();
    const r = new Reflector({
      kind: "namespace",
      path: RESOURCE_PATHS.namespace,
      params: {},
      connection,
      sink: (e) => mirror.apply(e),
      timing: FAST,
    });
    try {
      api.create("namespace", namespaceJson("default"));
      r.start();
      await until("synced", () => r.state.synced);
      api.requireToken = "two";
      await new Promise((res) => setTimeout(res, 20));
      writeFileSync(tokenPath, "two\n");
      api.dropWatches();
      api.create("namespace", namespaceJson("kube-system"));
      await until("resumed with the new token", () => mirror.objects.has("kube-system"));
    } finally {
      await r.stop();
      connection.close();
      await api.stop();
    }
  });
});
