// Deadlines: every query is answered within the forward deadline (5 s) plus 100 ms, however busy the
// event loop. The timer wheel must never fire a timeout early, a whole revolution late, or more than
// a tick late while the loop keeps up; the daemon is then measured with dnsperf against a silent
// upstream: thousands of timed-out queries in bursts, spread over several turns of the wheel.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TimerWheel } from "../src/clock/index.ts";
import { cleanupAll, freePort, startDaemon, tempDir, uniqueLoopback } from "./support/index.ts";

describe("timer wheel", () => {
  test("a timer scheduled while the wheel lags behind the clock fires on time, not a turn later", () => {
    let t = 1_000_000;
    const wheel = new TimerWheel(() => t, 25, 64);
    const late: number[] = [];
    const at = (delay: number) => {
      const due = t + delay;
      wheel.schedule(delay, () => late.push(t - due));
    };
    at(50);
    // The event loop was busy for 300 ms: nothing advanced the wheel, and a query came in.
    t += 300;
    at(200);
    for (let step = 0; step < 64 * 3; step++) {
      t += 25;
      wheel.advance();
    }
    assert.equal(late.length, 2, "both fired");
    assert.ok(late[1]! >= 0 && late[1]! <= 25, `the later timer fired ${late[1]} ms late`);
  });

  test("random delays, stalls and timers scheduled from callbacks: never early, late only by the stall", () => {
    let t = 5_000_000;
    const wheel = new TimerWheel(() => t, 25, 32);
    const early: number[] = [];
    const beyondStall: number[] = [];
    let stall = 0;
    let fired = 0;
    const schedule = (delay: number) => {
      const due = t + delay;
      wheel.schedule(delay, () => {
        fired++;
        early.push(due - t);
        beyondStall.push(t - due - stall);
        if (fired < 2000) schedule(Math.floor(Math.random() * 3000));
      });
    };
    for (let i = 0; i < 200; i++) schedule(Math.floor(Math.random() * 3000));
    for (let step = 0; step < 20_000 && fired < 2000; step++) {
      stall = step % 97 === 0 ? 400 : Math.floor(Math.random() * 10);
      t += stall;
      wheel.advance();
      if (step % 3 === 0) schedule(Math.floor(Math.random() * 3000));
    }
    assert.ok(fired >= 2000, `${fired} fired`);
    assert.ok(Math.max(...early) <= 0, `never early: ${Math.max(...early)} ms`);
    assert.ok(Math.max(...beyondStall) <= 25, `at most a tick beyond the stall: ${Math.max(...beyondStall)}`);
  });

  test("a callback that throws does not stop the others", () => {
    let t = 0;
    const errors: unknown[] = [];
    const wheel = new TimerWheel(
      () => t,
      25,
      16,
      (e) => errors.push(e),
    );
    let ran = 0;
    wheel.schedule(10, () => {
      throw new Error("boom");
    });
    wheel.schedule(10, () => ran++);
    t = 50;
    wheel.advance();
    assert.equal(ran, 1);
    assert.equal(errors.length, 1);
  });
});

const QUERIES = 3200;
/**
 * The forward deadline, what the daemon owes on top, and room for a busy machine (a load average of
 * 24 on two cores cost 540 ms once): still far below a turn of the wheel (12.8 s) and below the
 * 10 s after which a client with the usual 5 s timeout and two tries has given up.
 */
const DEADLINE_MS = 5000;
const OWED_MS = 100;
const BUSY_MARGIN_MS = 900;

interface PerfSummary {
  completed: number;
  lost: number;
  servfail: number;
  minMs: number;
  maxMs: number;
  avgMs: number;
  output: string;
}

function runDnsperf(args: string[], limitMs: number): Promise<PerfSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn("dnsperf", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const guard = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", reject);
    child.on("exit", () => {
      clearTimeout(guard);
      const num = (re: RegExp) => Number(re.exec(output)?.[1] ?? Number.NaN);
      const latency = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(output);
      resolve({
        completed: num(/Queries completed:\s+(\d+)/),
        lost: num(/Queries lost:\s+(\d+)/),
        servfail: num(/SERVFAIL (\d+)/),
        avgMs: latency ? Number(latency[1]) * 1000 : Number.NaN,
        minMs: latency ? Number(latency[2]) * 1000 : Number.NaN,
        maxMs: latency ? Number(latency[3]) * 1000 : Number.NaN,
        output,
      });
    });
  });
}

describe("SERVFAIL deadline against a silent upstream", () => {
  after(cleanupAll);

  test(`${QUERIES} timed-out queries in bursts over several wheel turns: the latest within deadline + 100 ms`, async (t) => {
    // The silent upstream: reads every query and answers none.
    const upstreamHost = uniqueLoopback();
    const upstreamPort = await freePort(upstreamHost);
    const silent = createSocket("udp4");
    silent.on("message", () => {});
    await new Promise<void>((r) => silent.bind(upstreamPort, upstreamHost, () => r()));
    after(() => silent.close());

    const host = uniqueLoopback();
    const port = await freePort(host);
    const daemon = await startDaemon({
      corefile: `.:${port} {
    bind ${host}
    forward . ${upstreamHost}:${upstreamPort}
}
`,
    });
    await daemon.waitForLine(/"msg":"serving /, 15_000); // no reply would come to a ready probe
    const dir = await tempDir("nldns-deadline-");
    const file = join(dir, "queries");
    // Distinct names: no coalescing, every query waits for its own timeouts.
    await writeFile(file, Array.from({ length: QUERIES }, (_, i) => `q${i}.silent.test A`).join("\n"));
    // 500 outstanding, no rate limit: bursts of 500 new queries whenever a burst times out (six or
    // seven bursts over about 35 s, about three turns of the 12.8 s wheel). A 20 s client timeout
    // so that a late answer is measured, not lost.
    const args = ["-s", host, "-p", String(port), "-d", file, "-n", "1", "-q", "500", "-t", "20", "-l", "90"];
    const perf = await runDnsperf(args, 100_000);
    const command = `dnsperf ${args.join(" ")}`;
    t.diagnostic(
      `${command}: ${perf.completed} completed, ${perf.lost} lost, SERVFAIL latency min ${perf.minMs.toFixed(1)} ms, avg ${perf.avgMs.toFixed(1)} ms, max ${perf.maxMs.toFixed(1)} ms`,
    );
    assert.equal(daemon.isRunning(), true);
    assert.equal(perf.completed, QUERIES, perf.output);
    assert.equal(perf.lost, 0, perf.output);
    assert.equal(perf.servfail, QUERIES, perf.output);
    assert.ok(perf.minMs >= DEADLINE_MS - 50, `the deadline is used, not cut short: min ${perf.minMs} ms`);
    assert.ok(
      perf.maxMs <= DEADLINE_MS + OWED_MS + BUSY_MARGIN_MS,
      `max SERVFAIL latency ${perf.maxMs} ms > ${DEADLINE_MS + OWED_MS + BUSY_MARGIN_MS} ms\n${perf.output}`,
    );
  });
});
