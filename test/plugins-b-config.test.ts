// Parsing of loadbalance, bufsize, dns64, whoami, timeouts, debug and pprof: defaults, every option,
// and start-up errors that name FILE:LINE and the accepted syntax.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCorefile } from "../src/config/index.ts";
import { ConfigError } from "../src/errors/index.ts";
import { synthesize } from "../src/plugins/dns64/index.ts";

function plugins(body: string): Readonly<Record<string, readonly unknown[]>> {
  return parseCorefile(`. {\n${body}\n}\n`, { file: "Corefile", env: {} }).blocks[0]!.plugins;
}

function fails(body: string, line: number, text: string): void {
  assert.throws(
    () => plugins(body),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.startsWith(`Corefile:${line}: `), e.message);
      assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
      return true;
    },
  );
}

describe("part B directives: parsing", () => {
  test("loadbalance", () => {
    assert.deepEqual(plugins("loadbalance").loadbalance, [{ policy: "round_robin", line: 2 }]);
    assert.deepEqual(plugins("loadbalance round_robin").loadbalance, [{ policy: "round_robin", line: 2 }]);
    fails("loadbalance weighted /w.txt", 2, "weighted policy");
    fails("loadbalance random", 2, 'unknown policy "random"');
    fails("loadbalance {\n  prefer 10.0.0.0/8\n}", 3, 'option "prefer" is not supported');
    fails("loadbalance\nloadbalance", 3, "given twice");
  });

  test("bufsize", () => {
    assert.deepEqual(plugins("bufsize").bufsize, [{ size: 1232, line: 2 }]);
    assert.deepEqual(plugins("bufsize 512").bufsize, [{ size: 512, line: 2 }]);
    fails("bufsize 511", 2, "SIZE 511 is out of range; it must be from 512 to 4096");
    fails("bufsize 4097", 2, "from 512 to 4096");
    fails("bufsize big", 2, 'SIZE "big" is not a whole number');
    fails("bufsize 1 2", 2, 'too many arguments (unexpected "2")');
  });

  test("dns64", () => {
    const d = plugins("dns64").dns64![0] as Record<string, unknown>;
    assert.equal(d.prefixLength, 96);
    assert.equal(d.translateAll, false);
    assert.equal(d.allowIpv4, false);
    const o = plugins("dns64 {\n  prefix 2001:db8:ff::/48\n  translate_all\n  allow_ipv4\n}")
      .dns64![0] as Record<string, unknown>;
    assert.deepEqual([o.prefixLength, o.translateAll, o.allowIpv4], [48, true, true]);
    fails("dns64 10.0.0.0/8", 2, "is not an IPv6 prefix");
    fails("dns64 64:ff9b::/97", 2, "the length must be 32, 40, 48, 56, 64 or 96");
    fails("dns64 64:ff9b::/44", 2, "got 44");
    fails("dns64 {\n  translate\n}", 3, 'unknown option "translate"');
  });

  test("dns64 address synthesis follows RFC 6052's table (bits 64..71 zero)", () => {
    const v4 = "192.0.2.33";
    const cases: [string, number, string][] = [
      ["2001:db8::", 32, "2001:db8:c000:221:0:0:0:0"],
      ["2001:db8:100::", 40, "2001:db8:1c0:2:21:0:0:0"],
      ["2001:db8:122::", 48, "2001:db8:122:c000:2:2100:0:0"],
      ["2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221:0:0"],
      ["2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"],
      ["2001:db8:122:344::", 96, "2001:db8:122:344:0:0:c000:221"],
    ];
    for (const [prefix, length, expected] of cases) {
      const d = plugins(`dns64 ${prefix}/${length}`).dns64![0] as { prefix: number[] };
      assert.equal(synthesize(d.prefix, length, v4), expected, `${prefix}/${length}`);
    }
  });

  test("whoami, debug", () => {
    assert.deepEqual(plugins("whoami").whoami, [{ line: 2 }]);
    assert.deepEqual(plugins("debug").debug, [{ line: 2 }]);
    fails("whoami x", 2, 'too many arguments (unexpected "x")');
    fails("debug {\n}", 2, "takes no { } block");
  });

  test("timeouts", () => {
    assert.deepEqual(plugins("timeouts {\n  read 10s\n  write 20s\n  idle 1m\n}").timeouts, [
      { readMs: 10_000, writeMs: 20_000, idleMs: 60_000, line: 2 },
    ]);
    fails("timeouts", 2, "a timeouts block with no timeouts");
    fails("timeouts {\n  read 500ms\n}", 3, "read 500ms must be at least 1s");
    fails("timeouts {\n  idle 25h\n}", 3, "idle 25h must be at most 24h");
    fails("timeouts {\n  maxtcpqueries 10\n}", 3, '"maxtcpqueries" is not supported');
    fails("timeouts {\n  slow 1s\n}", 3, 'unknown option "slow"');
  });

  test("pprof", () => {
    assert.deepEqual(plugins("pprof").pprof, [{ address: "localhost:6053", line: 2 }]);
    assert.deepEqual(plugins("pprof 127.0.0.1:6060 {\n  block 1\n}").pprof, [
      { address: "127.0.0.1:6060", line: 2 },
    ]);
    fails("pprof nowhere", 2, "missing port");
    fails("pprof {\n  mutex\n}", 3, 'unknown option "mutex"');
  });
});
