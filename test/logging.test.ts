// Logs of the real daemon (pino JSON on stdout): the effective configuration once at start; `log`
// lines in CoreDNS's {common} shape and its class filter; `errors` with a dead upstream under a burst
// of queries: consolidated (one line per period with the count) or, without a rule, once per upstream
// per interval with the count, never a line per failure. Plus the ErrorsLog unit on its own.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ErrorsConfig } from "../src/config/types.ts";
import { ErrorsLog, type Logger } from "../src/log/index.ts";
import {
  cleanupAll,
  type Daemon,
  freePort,
  hostPort,
  query,
  soaRecord,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: pino lines are free-form JSON
type Line = Record<string, any>;

function jsonLines(lines: readonly string[]): Line[] {
  const out: Line[] = [];
  for (const l of lines) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l));
    } catch {
      // not a log line
    }
  }
  return out;
}

/** A pino-shaped logger that keeps what it is given. */
function memoryLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: Line, msg: string) => lines.push({ ...fields, level, msg });
  const log = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
  return { log: log as unknown as Logger, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ErrorsLog", () => {
  test("without a matching rule: the first at once, then one line per interval with its count", async () => {
    const { log, lines } = memoryLogger();
    const errors = new ErrorsLog({ log, config: null, intervalMs: 200 });
    for (let i = 0; i < 50; i++)
      errors.report("10.0.0.1:53", "plugin/forward: read udp 10.0.0.1:53: i/o timeout");
    errors.report("10.0.0.2:53", "plugin/forward: read udp 10.0.0.2:53: i/o timeout");
    assert.deepEqual(
      lines.map((l) => [l.key, l.count]),
      [
        ["10.0.0.1:53", 1],
        ["10.0.0.2:53", 1],
      ],
    );
    await sleep(300);
    assert.deepEqual(
      lines.slice(2).map((l) => [l.key, l.count, l.msg]),
      [["10.0.0.1:53", 49, "plugin/forward: read udp 10.0.0.1:53: i/o timeout (49 times in last 200ms)"]],
    );
    await sleep(300); // a quiet interval: the next failure is logged at once again
    errors.report("10.0.0.1:53", "plugin/forward: read udp 10.0.0.1:53: i/o timeout");
    assert.equal(lines.length, 4);
    assert.equal(lines[3]!.count, 1);
    errors.close();
  });

  test("consolidate rules count matching messages and log once per period, at the rule's level", async () => {
    const { log, lines } = memoryLogger();
    const config: ErrorsConfig = {
      consolidateMs: 200,
      consolidate: [
        { periodMs: 200, pattern: ".* i/o timeout$", level: "warning" },
        { periodMs: 200, pattern: "(?i)REFUSED", level: "error" },
      ],
      stacktrace: false,
      line: 1,
    };
    const errors = new ErrorsLog({ log, config, intervalMs: 10_000 });
    for (let i = 0; i < 7; i++) errors.report(`u${i % 2}`, "plugin/forward: read udp u: i/o timeout");
    errors.report("u", "connection refused");
    errors.report("u", "something else");
    assert.deepEqual(
      lines.map((l) => l.msg),
      ["something else"],
      "matching messages are only counted",
    );
    await sleep(300);
    assert.deepEqual(
      lines.slice(1).map((l) => [l.level, l.count, l.msg]),
      [
        ["warn", 7, "7 errors like '.* i/o timeout$' occurred in last 200ms"],
        ["error", 1, "1 errors like '(?i)REFUSED' occurred in last 200ms"],
      ],
    );
    errors.close();
  });
});

describe("the daemon's logs", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let server: { host: string; port: number };
  let metricsUrl: string;
  const dead: string[] = [];

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 60 }),
        "hit.example.test. 300 IN A 192.0.2.1",
        soaRecord("other.test", { ttl: 300, minimum: 60 }),
        "yes.other.test. 300 IN A 192.0.2.2",
      ],
    });
    const addr = uniqueLoopback();
    const port = await freePort(addr);
    server = { host: addr, port };
    const metricsPort = await freePort(addr);
    metricsUrl = `http://${addr}:${metricsPort}/metrics`;
    for (let i = 0; i < 2; i++) {
      const host = uniqueLoopback();
      dead.push(hostPort(host, await freePort(host)));
    }
    const corefile = `example.test:${port} {
    bind ${addr}
    log
    cache 30
    forward . ${upstream.address}
}
other.test:${port} {
    bind ${addr}
    log {
        class denial
    }
    forward . ${upstream.address}
}
consolidated.test:${port} {
    bind ${addr}
    errors {
        consolidate 2s "^plugin/forward: " warning
    }
    log {
        class error
    }
    forward . ${dead[0]}
    prometheus ${addr}:${metricsPort}
}
plain.test:${port} {
    bind ${addr}
    errors
    forward . ${dead[1]}
    prometheus ${addr}:${metricsPort}
}
`;
    daemon = await startDaemon({ corefile, readyProbe: server });
  });

  after(async () => {
    await daemon?.stop();
    await upstream?.stop();
    await cleanupAll();
  });

  test("the effective configuration, once, as one structured line", async () => {
    // Logged once start-up is complete, which can be just after the first DNS answer.
    await daemon.waitForLine(/"msg":"effective configuration"/, 5000);
    const lines = jsonLines(daemon.lines()).filter((l) => l.msg === "effective configuration");
    assert.equal(lines.length, 1);
    const blocks = lines[0]!.config.blocks as { zones: string[]; log: unknown; errors: unknown }[];
    assert.deepEqual(
      blocks.map((b) => b.zones[0]),
      ["example.test.", "other.test.", "consolidated.test.", "plain.test."],
    );
    assert.deepEqual(blocks[1]!.log, { classes: ["denial"], names: ["."], format: "{common}", line: 9 });
  });

  test("`log`: one CoreDNS-shaped line per query; `class` filters", async () => {
    const from = daemon.lines().length;
    assert.equal((await query(server, "hit.example.test", "A", { id: 4660 })).rcode, "NOERROR");
    assert.equal((await query(server, "Hit.Example.test", "A", { id: 4661, proto: "tcp" })).rcode, "NOERROR");
    assert.equal(
      (await query(server, "nx.example.test", "A", { id: 4662, dnssecOk: true })).rcode,
      "NXDOMAIN",
    );
    assert.equal((await query(server, "yes.other.test", "A", { id: 4663 })).rcode, "NOERROR"); // success: not logged
    assert.equal((await query(server, "no.other.test", "A", { id: 4664 })).rcode, "NXDOMAIN"); // denial
    assert.equal((await query(server, "yes.other.test", "TXT", { id: 4665 })).rcode, "NOERROR"); // NODATA: denial
    await daemon.waitForLine(/"id":4665/, 3000, from);
    const logged = jsonLines(daemon.lines().slice(from)).filter((l) => l.plugin === "log");
    assert.deepEqual(
      logged.map((l) => l.id),
      [4660, 4661, 4662, 4664, 4665],
    );
    const [udp, tcp, nx] = logged;
    const client = /^127\.\d+\.\d+\.\d+:\d+$/;
    assert.match(udp!.client, client);
    assert.deepEqual(
      { ...udp, client: "", duration: 0, rsize: 0, rflags: "", time: 0, pid: 0, hostname: "", msg: "" },
      {
        level: 30,
        time: 0,
        pid: 0,
        hostname: "",
        name: "hit.example.test.",
        client: "",
        id: 4660,
        type: "A",
        class: "IN",
        proto: "udp",
        size: 34,
        do: false,
        bufsize: 512,
        rcode: "NOERROR",
        rflags: "",
        rsize: 0,
        duration: 0,
        opcode: 0,
        responseClass: "success",
        plugin: "log",
        msg: "",
      },
    );
    assert.match(udp!.rflags, /^qr(,aa)?,rd,ra$/);
    assert.ok(udp!.duration > 0 && udp!.duration < 1);
    assert.match(
      udp!.msg,
      /^127\.\d+\.\d+\.\d+:\d+ - 4660 "A IN hit\.example\.test\. udp 34 false 512" NOERROR qr(,aa)?,rd,ra \d+ \d+(\.\d+)?s$/,
    );
    assert.match(tcp!.msg, / - 4661 "A IN hit\.example\.test\. tcp 34 false 65535" NOERROR /);
    assert.match(
      nx!.msg,
      / - 4662 "A IN nx\.example\.test\. udp \d+ true 1232" NXDOMAIN qr(,aa)?,rd,ra \d+ /,
    );
    assert.equal(logged[3]!.responseClass, "denial");
    assert.equal(logged[4]!.responseClass, "denial");
  });

  test("`errors` with a dead upstream under a burst: counts per period, never a line per failure", async () => {
    const from = daemon.lines().length;
    const started = Date.now();
    const burst = (zone: string) =>
      Array.from({ length: 20 }, (_, i) => query(server, `q${i}.${zone}`, "A", { timeoutMs: 8000 }));
    const replies = await Promise.all([...burst("consolidated.test"), ...burst("plain.test")]);
    assert.ok(replies.every((r) => r.rcode === "SERVFAIL"));
    // Every window and period has closed: plain's first 10 s window (from its first failure), and a
    // consolidate period after the last failure.
    await sleep(Math.max(0, started + 10_000 - Date.now()) + 2500);
    const lines = jsonLines(daemon.lines().slice(from)).filter((l) => l.plugin === "errors");
    const failures = await failuresByUpstream(metricsUrl);

    // consolidate: only "N errors like ..." lines, at the rule's level, adding up to every failure.
    const consolidated = lines.filter((l) => l.pattern === "^plugin/forward: ");
    assert.ok(consolidated.length >= 1 && consolidated.length <= 3, JSON.stringify(consolidated));
    for (const l of consolidated) {
      assert.equal(l.level, 40);
      assert.match(l.msg, /^\d+ errors like '\^plugin\/forward: ' occurred in last 2s$/);
    }
    const consolidatedCount = consolidated.reduce((n, l) => n + l.count, 0);
    assert.ok(consolidatedCount >= 20, `at least one failure per query: ${consolidatedCount}`);
    assert.equal(consolidatedCount, failures.get(dead[0]!));
    assert.ok(!lines.some((l) => l.key === dead[0] || l.upstream === dead[0]), "no per-failure lines");

    // plain `errors`: the first failure at once, then one line for the interval with its count.
    const plain = lines.filter((l) => l.key === dead[1]);
    assert.equal(plain.length, 2, JSON.stringify(plain));
    assert.equal(plain[0]!.count, 1);
    assert.equal(plain[0]!.level, 50);
    assert.match(
      plain[0]!.msg,
      new RegExp(`^plugin/forward: (read )?udp ${dead[1]!.replaceAll(".", "\\.")}: `),
    );
    assert.match(plain[1]!.msg, /\(\d+ times in last 10s\)$/);
    assert.equal(plain[0]!.count + plain[1]!.count, failures.get(dead[1]!));

    // `log { class error }` logged each SERVFAIL of its block, and only those.
    const served = jsonLines(daemon.lines().slice(from)).filter((l) => l.plugin === "log");
    assert.equal(served.length, 20);
    assert.ok(served.every((l) => l.rcode === "SERVFAIL" && l.name.endsWith("consolidated.test.")));
  });
});

/** coredns_nodelocaldns_upstream_failures_total summed per upstream (`to`), from a real scrape. */
async function failuresByUpstream(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^coredns_nodelocaldns_upstream_failures_total\{([^}]*)\} (\S+)$/gm)) {
    const to = /to="([^"]+)"/.exec(m[1]!)![1]!;
    out.set(to, (out.get(to) ?? 0) + Number(m[2]));
  }
  return out;
}
