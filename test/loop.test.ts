// `loop`: two daemons whose `.` blocks forward to each other. Both find the loop, log which block and
// upstream, count it, answer that block with SERVFAIL at once instead of spinning (CPU stays low), and
// keep serving their other block. A reload that removes the loop brings the block back. Probe-shaped
// HINFO queries are never cached.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { metric } from "./fixtures/nodecache-stock.ts";
import {
  cleanupAll,
  type Daemon,
  dig,
  freePort,
  query,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

interface Node {
  host: string;
  port: number;
  prom: number;
  daemon?: Daemon;
}

function corefile(self: Node, dotUpstream: string, other: Upstream): string {
  return [
    `.:${self.port} {`,
    `    bind ${self.host}`,
    "    errors",
    "    cache 30",
    "    reload 2s 1s",
    "    loop",
    `    forward . ${dotUpstream}`,
    `    prometheus 127.0.0.1:${self.prom}`,
    "}",
    `example.test:${self.port} {`,
    `    bind ${self.host}`,
    "    loop",
    `    forward . ${other.address}`,
    "}",
    "",
  ].join("\n");
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("two daemons forwarding to each other", () => {
  let up: Upstream;
  const a: Node = { host: "", port: 0, prom: 0 };
  const b: Node = { host: "", port: 0, prom: 0 };

  before(async () => {
    up = await startUnbound({
      host: uniqueLoopback(),
      records: [
        "example.test. 300 IN SOA ns.example.test. h.example.test. 1 7200 1800 86400 60",
        "www.example.test. 300 IN A 192.0.2.80",
        "other.test. 300 IN SOA ns.other.test. h.other.test. 1 7200 1800 86400 60",
        "www.other.test. 300 IN A 192.0.2.81",
      ],
    });
    for (const n of [a, b]) {
      n.host = uniqueLoopback();
      n.port = await freePort(n.host);
      n.prom = await freePort("127.0.0.1");
    }
    const addr = (n: Node) => `${n.host}:${n.port}`;
    [a.daemon, b.daemon] = await Promise.all([
      startDaemon({ corefile: corefile(a, addr(b), up), readyProbe: { host: a.host, port: a.port } }),
      startDaemon({ corefile: corefile(b, addr(a), up), readyProbe: { host: b.host, port: b.port } }),
    ]);
  });

  test("both detect the loop and say which block and upstream", async () => {
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const line = await self.daemon!.waitForLine(/Loop \(.* -> .*\) detected for zone/, 20_000);
      assert.ok(line.includes(`dns://${self.host}:${self.port}`), line);
      assert.ok(line.includes(`forwarding to ${other.host}:${other.port}`), line);
      assert.equal(await metric(`127.0.0.1:${self.prom}`, /^coredns_loop_detected_total\{.*zone="\."/), 1);
      assert.equal(await metric(`127.0.0.1:${self.prom}`, /^coredns_loop_active\{.*zone="\."/), 1);
    }
  });

  test("the looping block answers SERVFAIL at once; the other block keeps serving; no spin", async () => {
    for (const n of [a, b]) {
      const r = await query({ host: n.host, port: n.port }, "www.other.test", "A", { timeoutMs: 1000 });
      assert.equal(r.rcode, "SERVFAIL");
      assert.ok(r.rttMs < 200, `took ${r.rttMs} ms`);
      const ok = await dig({ host: n.host, port: n.port }, "www.example.test", "A");
      assert.equal(ok.answer[0]?.data, "192.0.2.80");
    }
    const before = [a, b].map((n) => cpuSeconds(n.daemon!.pid));
    await new Promise((r) => setTimeout(r, 3000));
    const used = [a, b].map((n, i) => cpuSeconds(n.daemon!.pid) - before[i]!);
    for (const u of used) assert.ok(u < 0.3, `CPU used over 3 s: ${used.join(", ")} s`);
    assert.ok(a.daemon!.isRunning() && b.daemon!.isRunning());
  });

  test("a reload that breaks the loop brings the block back", async () => {
    const mark = a.daemon!.lines().length;
    await writeFile(a.daemon!.corefilePath, corefile(a, up.address, up));
    await a.daemon!.waitForLine(/Reloading complete/, 8000, mark);
    const deadline = Date.now() + 5000;
    let rcode = "";
    while (Date.now() < deadline) {
      rcode = (await query({ host: a.host, port: a.port }, "www.other.test", "A")).rcode;
      if (rcode === "NOERROR") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(rcode, "NOERROR");
    // A fresh handler probed again and found no loop this time.
    assert.equal(
      a
        .daemon!.lines()
        .slice(mark)
        .filter((l) => /Loop \(/.test(l)).length,
      0,
    );
  });
});

describe("probes", () => {
  test("probe-shaped HINFO queries bypass the cache; ordinary ones are cached", async () => {
    const up = await startUnbound({
      host: uniqueLoopback(),
      records: [
        "example.test. 300 IN SOA ns.example.test. h.example.test. 1 7200 1800 86400 60",
        "www.example.test. 300 IN A 192.0.2.80",
      ],
    });
    const host = uniqueLoopback();
    const port = await freePort(host);
    const d = await startDaemon({
      corefile: `.:${port} {\n    bind ${host}\n    cache 30\n    loop\n    forward . ${up.address}\n}\n`,
      readyProbe: { host, port },
    });
    const probe = "123456789012.987654321098.example.test";
    for (let i = 0; i < 2; i++) await dig({ host, port }, probe, "HINFO");
    for (let i = 0; i < 2; i++) await dig({ host, port }, "www.example.test", "HINFO");
    assert.equal(await up.queryCount(`${probe}.`, "HINFO"), 2);
    assert.equal(await up.queryCount("www.example.test.", "HINFO"), 1);
    // The daemon's own start-up probe reached the upstream too, and found no loop.
    assert.ok((await up.queryLog()).some((q) => q.type === "HINFO" && /^\d{8,}\.\d{8,}\.$/.test(q.name)));
    assert.doesNotMatch(d.output(), /Loop \(/);
  });
});
