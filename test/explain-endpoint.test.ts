// The explain endpoint's reach: under -workers N the primary answers through its workers (cache show
// and flush cover every worker's cache); callers that are not local are refused, here from a "pod"
// network namespace joined to the daemon's by a veth pair.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { CacheListing, ExplainReport } from "../src/explain/index.ts";
import { connectPod } from "./fixtures/netif-runner.ts";
import { scopedNetns, startDaemonIn } from "./fixtures/netns-daemon.ts";
import {
  cleanupAll,
  cli,
  dig,
  freePort,
  soaRecord,
  startDaemon,
  startUnbound,
  uniqueLoopback,
} from "./support/index.ts";

const isRoot = process.getuid?.() === 0;

after(() => cleanupAll());

describe("explain with -workers 2", () => {
  test("cache show and flush reach every worker; explain answers from a worker", async () => {
    const kubeDns = await startUnbound({ host: uniqueLoopback(), records: [soaRecord("cluster.local")] });
    const host = uniqueLoopback();
    const server = { host, port: await freePort(host) };
    const explainAt = `${host}:${await freePort(host)}`;
    // node-cache's drop-in shape: cluster names go to kube-dns and NXDOMAIN is cached (here 300 s).
    const daemon = await startDaemon({
      corefile: `cluster.local:${server.port} {
    bind ${host}
    cache {
        success 9984 30
        denial 9984 300
    }
    forward . ${kubeDns.host}:${kubeDns.port} {
        force_tcp
    }
    explain ${explainAt}
}
`,
      args: ["-workers", "2"],
      readyProbe: server,
    });
    await daemon.waitForLine(/2 workers serving/);
    const name = "newsvc.default.svc.cluster.local.";
    const holders = async (): Promise<CacheListing["caches"]> => {
      const run = await cli(["cache", "show", name, "--json", "--server", explainAt]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as CacheListing).caches.filter((c) => c.entries.length > 0);
    };
    // Each dig comes from a fresh port, so the kernel spreads them over both workers.
    for (let i = 0; i < 60 && (await holders()).length < 2; i++)
      assert.equal((await dig(server, name)).rcode, "NXDOMAIN");
    const caches = await holders();
    assert.deepEqual(caches.map((c) => c.worker).sort(), [1, 2]);
    for (const cache of caches) assert.equal(cache.entries[0]!.rcode, "NXDOMAIN");

    const explain = async (): Promise<ExplainReport> => {
      const run = await cli(["explain", "newsvc", "--json", "--server", explainAt]);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as ExplainReport;
    };
    const cached = await explain();
    assert.deepEqual(cached.client, { ip: null, namespace: "default", pod: null, known: false });
    assert.deepEqual(
      cached.steps.map((s) => [s.name, s.answeredBy, s.rcode, s.kind]),
      [
        [name, "cache", "NXDOMAIN", "denial"],
        ["newsvc.svc.cluster.local.", "forward", null, undefined],
      ],
    );
    const flush = await cli(["cache", "flush", "newsvc.default.svc.cluster.local", "--server", explainAt]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.equal(flush.stdout, `flushed 2 entries under newsvc.default.svc.cluster.local\n`);
    assert.deepEqual(await holders(), []);
    assert.equal((await explain()).steps[0]!.answeredBy, "forward");
  });
});

describe("explain refuses callers that are not local", {
  skip: !isRoot && "needs root (network namespaces)",
}, () => {
  test("a pod's address gets 403; loopback on the node is served", async () => {
    const node = await scopedNetns("nldns-explain");
    const pod = await scopedNetns("nldns-explpod");
    await connectPod(node, pod, { localIps: [] }); // node 10.244.0.1 <-> pod 10.244.0.2
    await startDaemonIn(node, {
      corefile: ".:53 {\n    bind 127.0.0.1\n    forward . 127.0.0.1:5301\n    explain 0.0.0.0:9254\n}\n",
      args: [],
    });
    // The CLI run inside each namespace, as an operator (node side) or a pod would.
    const inNode = ["ip", "netns", "exec", node.name];
    const inPod = ["ip", "netns", "exec", pod.name];
    const local = await cli(["explain", "example.test.", "--json"], inNode);
    assert.equal(local.code, 0, local.stderr);
    assert.equal((JSON.parse(local.stdout) as ExplainReport).steps[0]!.answeredBy, "forward");
    for (const args of [
      ["explain", "example.test."],
      ["cache", "show", "."],
      ["cache", "flush", "."],
    ]) {
      const remote = await cli([...args, "--server", "10.244.0.1:9254"], inPod);
      assert.equal(remote.code, 1, `${args.join(" ")}: ${remote.stdout}`);
      assert.match(remote.stderr, /HTTP 403: explain serves local callers only, not 10\.244\.0\.2/);
    }
  });
});
