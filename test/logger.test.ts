// The daemon's JSON logger: pino's line shape (tests and operators' log pipelines read it), level
// threshold shared by a logger tree, errors serialized as pino's err serializer does, and no throw on
// values JSON cannot hold.

import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonLogger } from "../src/log/index.ts";

function collect(level = "info") {
  const lines: string[] = [];
  const log = jsonLogger(level, "nodelocaldns", (l) => lines.push(l));
  // biome-ignore lint/suspicious/noExplicitAny: parsed log lines
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as any) };
}

test("lines have pino's shape and key order: level, time, name, bindings, fields, msg", () => {
  const { log, lines, parsed } = collect();
  log.info({ zones: ["."], port: 53 }, "serving");
  log.warn("plain message");
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.endsWith("}\n")));
  const [a, b] = parsed();
  assert.deepEqual(Object.keys(a), ["level", "time", "name", "zones", "port", "msg"]);
  assert.equal(a.level, 30);
  assert.equal(a.name, "nodelocaldns");
  assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual([b.level, b.msg], [40, "plain message"]);
});

test("the threshold filters, and setting it on the root moves children too", () => {
  const { log, parsed } = collect("warn");
  const child = log.child({ module: "netif" });
  child.info("dropped");
  child.error("kept");
  assert.equal(log.isLevelEnabled("info"), false);
  log.level = "debug";
  assert.equal(child.isLevelEnabled("debug"), true);
  child.debug({ n: 1 }, "now kept");
  assert.deepEqual(
    parsed().map((l) => [l.level, l.module, l.msg]),
    [
      [50, "netif", "kept"],
      [20, "netif", "now kept"],
    ],
  );
  assert.throws(() => {
    log.level = "loud";
  }, /unknown log level "loud" \(allowed: trace, debug, info, warn, error, fatal, silent\)/);
});

test("errors under any key serialize as type, message, stack and their own fields", () => {
  const { log, parsed } = collect();
  const err = Object.assign(new RangeError("bad thing"), { code: "E_BAD" });
  log.error({ err, endpoint: "metrics" }, "cannot listen");
  log.error(new TypeError("direct"));
  const [a, b] = parsed();
  assert.equal(a.err.type, "RangeError");
  assert.equal(a.err.message, "bad thing");
  assert.equal(a.err.code, "E_BAD");
  assert.match(a.err.stack, /RangeError: bad thing/);
  assert.equal(a.msg, "cannot listen");
  assert.deepEqual([b.err.type, b.msg], ["TypeError", "direct"]);
});

test("circular objects and bigints are written, not thrown", () => {
  const { log, parsed } = collect();
  const loop: Record<string, unknown> = { a: 1 };
  loop.self = loop;
  const shared = { zone: "." };
  log.info({ loop, big: 2n ** 70n, first: shared, second: shared }, "odd values");
  const [l] = parsed();
  assert.equal(l.loop.self, "[Circular]");
  assert.deepEqual([l.first, l.second], [shared, shared]);
  assert.equal(l.big, "1180591620717411303424");
});
