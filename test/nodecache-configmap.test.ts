// The kube-dns ConfigMap on a running stock set-up (reload shortened to `reload 2s 1s`): a stub domain
// answered by its own upstream (dnsmasq), upstreamNameservers replacing the node's resolvers, and bad
// values one at a time: each logged with key and value, counted as errortype="configmap", ignored.

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { metric, type StockSetup, startStock } from "./fixtures/nodecache-stock.ts";
import {
  cleanupAll,
  dig,
  startDnsmasq,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms (last ${JSON.stringify(last)})`);
}

describe("kube-dns ConfigMap", () => {
  let s: StockSetup;
  let stub: Upstream;
  let custom: Upstream;
  const configmapErrors = () =>
    metric(s.metrics, /^coredns_nodecache_setup_errors_total\{errortype="configmap"\}/);
  const answer = async (name: string) =>
    (await dig({ host: s.localIp, port: s.port }, name, "A")).answer[0]?.data;

  before(async () => {
    stub = await startDnsmasq({
      host: uniqueLoopback(),
      hosts: [
        { name: "db.corp.test", ipv4: "10.9.9.9" },
        { name: "db.corp2.test", ipv4: "10.9.9.10" },
      ],
    });
    custom = await startUnbound({
      host: uniqueLoopback(),
      records: [
        "example.test. 300 IN SOA ns.example.test. h.example.test. 1 7200 1800 86400 60",
        "www.example.test. 300 IN A 192.0.2.99",
      ],
    });
    s = await startStock({
      reload: "2s 1s",
      cm: { stubDomains: JSON.stringify({ "corp.test": [stub.address] }) },
    });
  });

  test("a stub domain is its own block, answered by its own upstream over UDP", async () => {
    const text = await readFile(s.daemon.corefilePath, "utf8");
    assert.ok(
      text.includes(
        `\ncorp.test:${s.port} {\n    errors\n    cache 30\n    bind ${s.localIp} ${s.dnsServerIp}\n    forward . ${stub.address}\n}\n`,
      ),
    );
    assert.equal(await answer("db.corp.test"), "10.9.9.9");
    assert.equal(await stub.queryCount("db.corp.test", "A"), 1);
    // Other names still go where they went.
    assert.equal(await answer("www.example.test"), "192.0.2.80");
  });

  test("upstreamNameservers replace the node's resolvers after a reload", async () => {
    await writeFile(join(s.cmDir, "upstreamNameservers"), JSON.stringify([custom.address]));
    await eventually(
      "custom upstream answers",
      () => answer("www.example.test"),
      (v) => v === "192.0.2.99",
    );
    assert.match(
      await readFile(s.daemon.corefilePath, "utf8"),
      new RegExp(`forward \\. ${custom.address.replaceAll(".", "\\.")}\\n`),
    );
    assert.equal(await configmapErrors(), 0);
  });

  test("bad values one by one: logged with key and value, counted, last good config keeps serving", async () => {
    const cases: [string, string, RegExp][] = [
      ["stubDomains", `{"corp.test": ["${stub.address}"`, /invalid JSON/],
      ["stubDomains", '{"corp.test": ["dns.corp.test"]}', /hostnames are not allowed/],
      ["upstreamNameservers", `["${custom.host}:99999"]`, /bad port/],
      ["stubDomains", '{"cluster.local": ["10.0.0.1"]}', /generated Corefile is invalid/],
    ];
    let n = 0;
    for (const [key, value, why] of cases) {
      const mark = s.daemon.lines().length;
      await writeFile(join(s.cmDir, key), value);
      n++;
      await eventually(`configmap error ${n}`, configmapErrors, (v) => v === n);
      const line = await s.daemon.waitForLine(
        new RegExp(`invalid kube-dns ConfigMap value for ${key}`),
        5000,
        mark,
      );
      assert.match(line, why);
      assert.ok(line.includes(`"key":"${key}"`) && line.includes(JSON.stringify(value).slice(1, -1)), line);
      assert.equal(await answer("db.corp.test"), "10.9.9.9");
      assert.equal(await answer("www.example.test"), "192.0.2.99");
    }
    // Reported once per value, not on every poll.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await configmapErrors(), cases.length);
    assert.equal(await metric(s.prometheus, /^coredns_reload_failed_total/), 0);
    assert.ok(s.daemon.isRunning());
  });

  test("a good value after bad ones applies", async () => {
    await writeFile(join(s.cmDir, "stubDomains"), JSON.stringify({ "corp2.test": [stub.address] }));
    await eventually(
      "new stub domain",
      () => answer("db.corp2.test"),
      (v) => v === "10.9.9.10",
    );
    const text = await readFile(s.daemon.corefilePath, "utf8");
    assert.doesNotMatch(text, /\ncorp\.test:/);
    // The bad upstreamNameservers value is still held back: the last good one serves.
    assert.equal(await answer("www.example.test"), "192.0.2.99");
  });
});
