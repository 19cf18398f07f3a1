// `reload`: the Corefile rewritten under load (an in-test client keeps thousands of queries going)
// swaps upstreams with zero failed queries; an invalid Corefile is logged, counted in
// coredns_reload_failed_total, and the old config keeps serving. Plus the poller's jitter.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { Poller } from "../src/reload/index.ts";
import { metric } from "./fixtures/nodecache-stock.ts";
import {
  cleanupAll,
  type Daemon,
  freePort,
  query,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

test("poller delay is interval ± jitter/2", () => {
  const p = (r: number) =>
    new Poller({ intervalMs: 2000, jitterMs: 1000, tick() {}, onError() {}, random: () => r });
  assert.equal(p(0).nextDelay(), 1500);
  assert.equal(p(0.5).nextDelay(), 2000);
  assert.equal(p(0.999999).nextDelay(), 2500);
});

function corefile(host: string, port: number, prom: number, upstream: Upstream): string {
  return `.:${port} {\n    bind ${host}\n    errors\n    reload 2s 1s\n    forward . ${upstream.address}\n    prometheus 127.0.0.1:${prom}\n}\n`;
}

describe("reload", () => {
  let a: Upstream;
  let b: Upstream;
  let d: Daemon;
  let host: string;
  let port: number;
  let prom: number;

  before(async () => {
    const zone = (ip: string) => ({
      host: uniqueLoopback(),
      zones: [{ name: "load.test.", type: "redirect" as const }],
      records: [`load.test. 60 IN A ${ip}`],
    });
    [a, b] = await Promise.all([startUnbound(zone("10.1.1.1")), startUnbound(zone("10.2.2.2"))]);
    host = uniqueLoopback();
    port = await freePort(host);
    prom = await freePort("127.0.0.1");
    d = await startDaemon({ corefile: corefile(host, port, prom, a), readyProbe: { host, port } });
  });

  test("a Corefile changed under load: zero failed queries, new upstream in use", async () => {
    let stop = false;
    let sent = 0;
    let failed = 0;
    let fromB = 0;
    let fromBAt = 0;
    const errors: string[] = [];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        sent++;
        try {
          const r = await query({ host, port }, `q${w}-${i}.load.test`, "A", { timeoutMs: 3000 });
          const ip = (r.packet.answers?.[0] as { data?: string } | undefined)?.data;
          if (r.rcode !== "NOERROR" || (ip !== "10.1.1.1" && ip !== "10.2.2.2")) {
            failed++;
            errors.push(`${r.rcode} ${ip}`);
          } else if (ip === "10.2.2.2" && fromB++ === 0) fromBAt = sent;
        } catch (error) {
          failed++;
          errors.push(String(error));
        }
      }
    };
    const workers = Array.from({ length: 20 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 800));
    const before = sent;
    await writeFile(d.corefilePath, corefile(host, port, prom, b));
    const deadline = Date.now() + 15_000;
    while ((fromB < 1000 || sent < 3000) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    assert.equal(failed, 0, errors.slice(0, 5).join("\n"));
    assert.ok(
      before > 100 && fromBAt > before,
      `queries before the change ${before}, first answer from b at ${fromBAt}`,
    );
    assert.ok(fromB >= 1000, `answers from b: ${fromB} of ${sent}`);
    await d.waitForLine(/Reloading complete/, 1000);
    console.log(
      `reload under load: ${sent} queries, ${fromB} answered by the new upstream, ${failed} failed`,
    );
  });

  test("an invalid Corefile: logged, counted, the running config keeps serving", async () => {
    const mark = d.lines().length;
    const version = await metric(`127.0.0.1:${prom}`, /^coredns_reload_version_info/);
    assert.equal(version, 1);
    await writeFile(
      d.corefilePath,
      `.:${port} {\n    bind ${host}\n    reload 2s 1s\n    forwrad . ${a.address}\n}\n`,
    );
    const line = await d.waitForLine(/Corefile changed but reload failed/, 8000, mark);
    assert.match(line, /Corefile:4: unknown directive .{0,2}forwrad/);
    assert.ok(((await metric(`127.0.0.1:${prom}`, /^coredns_reload_failed_total/)) ?? 0) >= 1);
    const r = await query({ host, port }, "still.load.test", "A");
    assert.equal((r.packet.answers?.[0] as { data?: string } | undefined)?.data, "10.2.2.2");
    assert.ok(d.isRunning());
  });
});
