import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  type Config,
  parseCorefile,
  parseDuration,
  parseResolvConf,
  parseSyntax,
  type ServerBlock,
  tokenize,
} from "../src/config/index.ts";
import { ConfigError } from "../src/errors/index.ts";
import { explainAddressOf } from "../src/plugins/explain/index.ts";
import { makeTestCa } from "./support/index.ts";

const FIXTURES = new URL("./fixtures/corefiles/", import.meta.url);
const STOCK = readFileSync(new URL("nodelocaldns-stock.Corefile", FIXTURES), "utf8");

function files(map: Record<string, string>): (p: string) => string {
  return (p) => {
    const v = map[p];
    if (v === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
    return v;
  };
}

const RESOLV =
  "# node resolvers\nsearch example.com corp.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3 ; second\n";

function parse(
  text: string,
  env?: Record<string, string | undefined>,
  fsMap: Record<string, string> = {},
): Config {
  return parseCorefile(text, {
    file: "Corefile",
    env,
    readFile: files({ "/etc/resolv.conf": RESOLV, ...fsMap }),
  });
}

/** Parse a one-block Corefile `. { BODY }` (body starts on line 2). */
function block(body: string): ServerBlock {
  const c = parse(`. {\n${body}\n}\n`);
  assert.equal(c.blocks.length, 1);
  return c.blocks[0]!;
}

/** Expect a ConfigError naming Corefile:LINE whose message matches every pattern. */
function fails(text: string, line: number, ...patterns: (RegExp | string)[]): ConfigError {
  let err: unknown;
  try {
    parse(text);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
  assert.equal(err.file, "Corefile");
  assert.equal(err.line, line, `line of: ${err.message}`);
  assert.ok(err.message.startsWith(`Corefile:${line}: `), err.message);
  for (const p of patterns) {
    if (typeof p === "string") assert.ok(err.message.includes(p), `"${err.message}" lacks "${p}"`);
    else assert.match(err.message, p);
  }
  return err;
}

/** Errors inside `. { ... }`: the body's first line is line 2. */
const failsIn = (body: string, line: number, ...p: (RegExp | string)[]) =>
  fails(`. {\n${body}\n}\n`, line, ...p);

function substituted(text: string): string {
  return text
    .replaceAll("__PILLAR__LOCAL__DNS__", "169.254.20.10")
    .replaceAll("__PILLAR__DNS__SERVER__", "10.96.0.10")
    .replaceAll("__PILLAR__DNS__DOMAIN__", "cluster.local")
    .replaceAll("__PILLAR__CLUSTER__DNS__", "10.96.0.11")
    .replaceAll("__PILLAR__UPSTREAM__SERVERS__", "/etc/resolv.conf");
}

describe("stock NodeLocal DNSCache Corefile", () => {
  test("verbatim text tokenizes into four blocks but is rejected at the first placeholder", () => {
    const syntax = parseSyntax(STOCK, "Corefile");
    assert.deepEqual(
      syntax.map((b) => b.keys.map((k) => k.text)),
      [["__PILLAR__DNS__DOMAIN__:53"], ["in-addr.arpa:53"], ["ip6.arpa:53"], [".:53"]],
    );
    fails(
      STOCK,
      9,
      'bind: "__PILLAR__LOCAL__DNS__" is not an IP address',
      "unsubstituted __PILLAR__ placeholder",
    );
  });

  test("substituted text parses into the expected four blocks", () => {
    const c = parse(substituted(STOCK));
    assert.equal(c.file, "Corefile");
    assert.deepEqual(
      c.blocks.map((b) => [b.zones, b.port, b.line]),
      [
        [["cluster.local."], 53, 1],
        [["in-addr.arpa."], 53, 16],
        [["ip6.arpa."], 53, 27],
        [["."], 53, 38],
      ],
    );
    for (const b of c.blocks) {
      assert.deepEqual(b.bind, ["169.254.20.10", "10.96.0.10"]);
      assert.equal(b.prometheus, "0.0.0.0:9253");
      assert.ok(b.errors && b.reload && b.loop && b.cache && b.forward);
      assert.deepEqual(b.reload, { intervalMs: 30000, jitterMs: 15000, line: b.reload.line });
      assert.equal(b.kubernetes, null);
      assert.equal(b.file, "Corefile");
    }
    const [cluster, v4, v6, root] = c.blocks as [ServerBlock, ServerBlock, ServerBlock, ServerBlock];
    assert.deepEqual(cluster.cache!.success, { capacity: 9984, maxTtl: 30, minTtl: 5 });
    assert.deepEqual(cluster.cache!.denial, { capacity: 9984, maxTtl: 5, minTtl: 5 });
    assert.deepEqual(cluster.health, { address: "169.254.20.10:8080", lameduckMs: 0, line: 14 });
    assert.deepEqual(cluster.forward!.to, [{ host: "10.96.0.11", port: 53 }]);
    assert.equal(cluster.forward!.forceTcp, true);
    assert.equal(cluster.forward!.line, 10);
    for (const b of [v4, v6, root]) {
      assert.deepEqual(b.cache!.success, { capacity: 9984, maxTtl: 30, minTtl: 5 });
      assert.deepEqual(b.cache!.denial, { capacity: 9984, maxTtl: 30, minTtl: 5 });
      assert.equal(b.health, null);
    }
    assert.equal(v4.forward!.forceTcp, true);
    assert.deepEqual(root.forward!.to, [
      { host: "10.0.0.2", port: 53 },
      { host: "10.0.0.3", port: 53 },
    ]);
    assert.equal(root.forward!.forceTcp, false);
  });

  test("the result is deeply frozen", () => {
    const c = parse(substituted(STOCK));
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.blocks) && Object.isFrozen(c.blocks[0]!.bind));
    assert.ok(Object.isFrozen(c.blocks[0]!.cache!.success) && Object.isFrozen(c.blocks[3]!.forward!.to[0]));
    assert.throws(() => {
      (c.blocks[0]!.bind as string[]).push("1.1.1.1");
    }, TypeError);
  });
});

describe("syntax", () => {
  test("comments, quotes with escapes, multi-line quoted tokens", () => {
    const toks = tokenize(
      'a "b c" "say \\"hi\\"" "x\\ny" # comment "not" {\nnext#tail\n"multi\nline" z',
      "F",
    );
    assert.deepEqual(
      toks.map((t) => [t.text, t.line]),
      [
        ["a", 1],
        ["b c", 1],
        ['say "hi"', 1],
        ["x\\ny", 1],
        ["next", 2],
        ["multi\nline", 3],
        ["z", 4],
      ],
    );
    assert.equal(toks[5]!.endLine, 4);
  });

  test("an unterminated quote names the line it opened on", () => {
    fails('. {\n  log "abc\n}\n', 2, "unterminated quoted string");
  });

  test("keys: several per block, commas, dns://, case and trailing dot", () => {
    const c = parse("dns://Example.ORG. , foo.com:53 {\n}\nbar.net,\n baz.net {\n}\n");
    assert.deepEqual(c.blocks[0]!.zones, ["example.org.", "foo.com."]);
    assert.deepEqual(c.blocks[1]!.zones, ["bar.net.", "baz.net."]);
    assert.equal(c.blocks[1]!.line, 3);
  });

  test("keys with different ports make one block per port, sharing the directives", () => {
    const c = parse("in-addr.arpa ip6.arpa:53 example.org:1053 other.org:1053 {\n  cache 10\n}\n");
    assert.deepEqual(
      c.blocks.map((b) => [b.zones, b.port]),
      [
        [["in-addr.arpa.", "ip6.arpa."], 53],
        [["example.org.", "other.org."], 1053],
      ],
    );
    assert.equal(c.blocks[1]!.cache!.success.maxTtl, 10);
    assert.equal(c.blocks[0]!.line, 1);
  });

  test("CIDR keys become reverse zones (CoreDNS)", () => {
    assert.deepEqual(parse("10.0.0.0/8 {\n}\n").blocks[0]!.zones, ["10.in-addr.arpa."]);
    assert.deepEqual(parse("192.168.1.0/24:53 {\n}\n").blocks[0]!.zones, ["1.168.192.in-addr.arpa."]);
    assert.deepEqual(parse("10.0.0.0/15 {\n}\n").blocks[0]!.zones, [
      "0.10.in-addr.arpa.",
      "1.10.in-addr.arpa.",
    ]);
    assert.deepEqual(parse("fd00::/8 {\n}\n").blocks[0]!.zones, ["d.f.ip6.arpa."]);
    assert.deepEqual(parse("2001:db8::/33:1053 {\n}\n").blocks[0]!.port, 1053);
  });

  test("an empty body is allowed and gives an all-null block", () => {
    const b = parse("example.org {\n}\n").blocks[0]!;
    assert.deepEqual(
      [b.bind, b.cache, b.forward, b.errors, b.log, b.health, b.ready, b.prometheus, b.reload, b.loop],
      [[], null, null, null, null, null, null, null, null, null],
    );
    assert.equal(parse("a.org {}\n").blocks.length, 0 + 1);
  });

  test("one-line sub-blocks are accepted", () => {
    const b = block("cache 30 { success 100 10 }\nforward . 1.2.3.4 { force_tcp }");
    assert.equal(b.cache!.success.capacity, 100);
    assert.equal(b.forward!.forceTcp, true);
  });

  test("empty Corefile gives no blocks", () => {
    assert.deepEqual(parse("# nothing\n").blocks, []);
  });

  test("structural errors name their line", () => {
    fails(". {\n  errors\n", 1, 'block opened with "{" at line 1 is never closed');
    fails(". {\n  cache {\n    success 1\n}\n", 1, "never closed");
    fails("}\n", 1, 'unexpected "}"');
    fails(". {\n}\n}\n", 3, 'unexpected "}"');
    fails("example.org\n", 1, 'server block "example.org" has no body');
    fails("example.org\nerrors {\n}\n", 1, "has no body", 'expected "{" on the same line');
    fails("{\n}\n", 1, "needs zone keys");
    fails(". {\n  forward . 1.1.1.1\n  {\n  }\n}\n", 3, 'unexpected "{"');
    fails("a.org, {\n}\n", 1, 'expected another zone key after ","');
    fails("import common\n", 1, "file to import not found: common");
  });

  test("bad keys: port, transport, name", () => {
    fails(
      ".:abc {\n}\n",
      1,
      'server block key ".:abc": port "abc" is not a number from 0 to 65535',
      "expected ZONE[:PORT]",
    );
    fails("x.org {\n}\n.:70000 {\n}\n", 3, 'port "70000"');
    fails("tls://example.org {\n}\n", 1, "transport tls:// is not supported");
    fails("a..b {\n}\n", 1, '"a..b" is not a valid zone name');
  });
});

describe("environment substitution", () => {
  test("{$NAME} and {$NAME:default}, in keys and arguments", () => {
    const c = parse(
      "{$DOMAIN}:{$PORT:53} {\n  forward . {$UP}:{$UPPORT:5353}\n  cache {$TTL:30}\n  bind {$MISSING:127.0.0.1}\n}\n",
      { DOMAIN: "Cluster.Local", UP: "10.1.1.1", TTL: undefined },
    );
    const b = c.blocks[0]!;
    assert.deepEqual([b.zones, b.port], [["cluster.local."], 53]);
    assert.deepEqual(b.forward!.to, [{ host: "10.1.1.1", port: 5353 }]);
    assert.equal(b.cache!.success.maxTtl, 30);
    assert.deepEqual(b.bind, ["127.0.0.1"]);
  });

  test("an unset variable without default becomes empty (as Caddy), inside quotes too", () => {
    const b = parse('. {\n  log "{$NOPE}x.org"\n}\n').blocks[0]!;
    assert.deepEqual(b.log!.names, ["x.org."]);
  });

  test("a malformed reference is an error", () => {
    fails(". {\n  cache {$TTL\n}\n", 2, "malformed environment reference");
  });
});

describe("directives", () => {
  test("unknown directive lists the known ones and suggests the nearest", () => {
    failsIn(
      "errors\nfowrad . 1.1.1.1",
      3,
      'Corefile:3: unknown directive "fowrad"; known: autopath, bind, bufsize, cache, debug, dns64, errors, explain, forward, health, hosts, kubernetes, loadbalance, log, loop, pprof, prometheus, ready, reload, rewrite, template, timeouts, whoami; did you mean "forward"?',
    );
    failsIn(
      "dnstap /tmp/dnstap.sock",
      2,
      'directive "dnstap" (a CoreDNS plugin) is not supported by nodelocaldns',
    );
  });

  test("once-only directives", () => {
    for (const d of [
      "cache",
      "forward . 1.1.1.1",
      "kubernetes cluster.local",
      "health",
      "errors",
      "ready",
      "prometheus",
      "reload",
      "loop",
      "log",
      "hosts",
    ]) {
      failsIn(`${d}\n${d}`, 3, `given twice in one server block (first at line 2)`);
    }
    assert.deepEqual(block("bind 127.0.0.1\nbind ::1 127.0.0.1").bind, ["127.0.0.1", "::1"]);
  });

  test("bind", () => {
    assert.deepEqual(block("bind 169.254.20.10 FE80::1").bind, ["169.254.20.10", "fe80::1"]);
    failsIn("bind eth0", 2, 'bind: "eth0" looks like an interface name', "IP addresses only");
    failsIn("bind 300.1.1.1", 2, 'bind: "300.1.1.1" is not an IP address; expected: bind ADDRESS...');
    failsIn("bind", 2, "bind: needs at least 1 argument");
    failsIn("bind 127.0.0.1 {\n}", 2, "bind: takes no { } block");
  });

  test("errors", () => {
    assert.deepEqual(block("errors").errors, {
      consolidateMs: 0,
      consolidate: [],
      stacktrace: false,
      line: 2,
    });
    const e = block(
      'errors stdout {\n  consolidate 5m ".* i/o timeout$" warning\n  consolidate 30s "^Failed"\n  stacktrace\n}',
    ).errors!;
    assert.equal(e.consolidateMs, 300000);
    assert.deepEqual(e.consolidate, [
      { periodMs: 300000, pattern: ".* i/o timeout$", level: "warning" },
      { periodMs: 30000, pattern: "^Failed", level: "error" },
    ]);
    assert.equal(e.stacktrace, true);
    failsIn("errors {\n  consolidate 5x foo\n}", 3, 'errors: consolidate duration "5x" is not a duration');
    failsIn(
      "errors {\n  consolidate 5m (foo\n}",
      3,
      'consolidate pattern "(foo" is not a valid regular expression',
    );
    failsIn("errors {\n  consolidate 5m foo loud\n}", 3, 'unknown log level "loud"');
    failsIn("errors {\n  consolidate 5m\n}", 3, "consolidate needs at least 2 arguments");
    failsIn("errors {\n  bogus\n}", 3, 'errors: unknown option "bogus"; allowed: consolidate, stacktrace');
    failsIn("errors /var/log/x", 2, 'invalid log destination "/var/log/x"');
  });

  test("log", () => {
    assert.deepEqual(block("log").log, { classes: ["all"], names: ["."], format: "{common}", line: 2 });
    assert.deepEqual(block("log Example.org").log!.names, ["example.org."]);
    const l = block('log a.org b.org "{combined}" {\n  class denial error\n  class denial\n}').log!;
    assert.deepEqual(
      [l.names, l.format, l.classes],
      [["a.org.", "b.org."], "{combined}", ["denial", "error"]],
    );
    failsIn(
      "log {\n  class weird\n}",
      3,
      'log: unknown class "weird"; expected: class all|denial|error|success',
    );
    failsIn("log {\n  class\n}", 3, "class needs at least 1 argument");
    failsIn("log {\n  format x\n}", 3, 'unknown option "format"; allowed: class');
  });

  test("prometheus, ready, health addresses and defaults", () => {
    assert.equal(block("prometheus").prometheus, "localhost:9153");
    assert.equal(block("prometheus :9253").prometheus, "0.0.0.0:9253");
    assert.equal(block("prometheus [::1]:9153").prometheus, "[::1]:9153");
    assert.equal(block("ready").ready, "0.0.0.0:8181");
    assert.equal(block("ready 127.0.0.1:8282").ready, "127.0.0.1:8282");
    assert.deepEqual(block("health").health, { address: "0.0.0.0:8080", lameduckMs: 0, line: 2 });
    assert.deepEqual(block("health 169.254.20.10:8080 {\n  lameduck 5s\n}").health!.lameduckMs, 5000);
    failsIn("prometheus 9253", 2, 'prometheus: address "9253": missing port');
    failsIn("prometheus :99999", 2, 'port "99999" is not a number from 0 to 65535');
    failsIn("health ::1:8080", 2, "an IPv6 host must be in brackets");
    failsIn("health __PILLAR__LOCAL__DNS__:8080", 2, "is not an IP address or host name", "__PILLAR__");
    failsIn("ready a b", 2, 'ready: has too many arguments (unexpected "b")');
    failsIn("health {\n  lameduck\n}", 3, "lameduck needs 1 argument");
    failsIn("health {\n  lameduck 5\n}", 3, 'lameduck duration "5" is not a duration');
    failsIn("health {\n  lameduck -1s\n}", 3, "must be at least 0s");
    failsIn("health {\n  other 1\n}", 3, 'unknown option "other"; allowed: lameduck');
    failsIn("prometheus :9253 {\n}", 2, "takes no { } block");
  });

  test("explain: off by default, loopback 9254 unless told", () => {
    const explainOf = (body: string) => explainAddressOf(block(body).plugins);
    assert.equal(explainOf("cache 30"), null);
    assert.equal(explainOf("explain"), "127.0.0.1:9254");
    assert.equal(explainOf("explain [::1]:9300"), "[::1]:9300");
    assert.equal(explainOf("explain :9300"), "0.0.0.0:9300");
    failsIn(
      "explain 9254",
      2,
      'explain: address "9254": missing port',
      "explain [ADDRESS] (default 127.0.0.1:9254)",
    );
    failsIn("explain a b", 2, 'explain: has too many arguments (unexpected "b")');
    failsIn("explain {\n}", 2, "takes no { } block");
    failsIn("explain\nexplain", 3, "explain: given twice in one server block (first at line 2)");
  });

  test("reload", () => {
    assert.deepEqual(block("reload 10s").reload, { intervalMs: 10000, jitterMs: 5000, line: 2 });
    assert.deepEqual(block("reload 1m 20s").reload!.jitterMs, 20000);
    assert.deepEqual(block("reload 2s 1s").reload!.jitterMs, 1000);
    failsIn("reload 1s", 2, "reload: interval 1s must be at least 2s");
    failsIn("reload 10s 500ms", 2, "jitter 500ms must be at least 1s");
    failsIn("reload 10s 2s 3s", 2, "too many arguments");
    failsIn("reload soon", 2, 'interval "soon" is not a duration');
  });

  test("loop", () => {
    assert.deepEqual(block("loop").loop, { line: 2 });
    failsIn("loop yes", 2, 'loop: has too many arguments (unexpected "yes"); expected: loop');
  });
});

describe("cache", () => {
  test("defaults", () => {
    assert.deepEqual(block("cache").cache, {
      zones: [],
      success: { capacity: 9984, maxTtl: 3600, minTtl: 5 },
      denial: { capacity: 9984, maxTtl: 1800, minTtl: 5 },
      servfailTtl: 5,
      prefetch: null,
      serveStale: null,
      keepTtl: false,
      line: 2,
    });
  });

  test("TTL caps both maxima, zones follow; a small TTL lowers the default minimum", () => {
    const c = block("cache 300 Example.org 10.0.0.0/8").cache!;
    assert.deepEqual(
      [c.success.maxTtl, c.denial.maxTtl, c.zones],
      [300, 300, ["example.org.", "10.in-addr.arpa."]],
    );
    assert.deepEqual(block("cache example.org").cache!.zones, ["example.org."]);
    assert.deepEqual(block("cache 3").cache!.success, { capacity: 9984, maxTtl: 3, minTtl: 3 });
  });

  test("every option", () => {
    const c = block(
      "cache 600 {\n  success 5000 120 10\n  denial 2500 60 0\n  prefetch 5 30s 25%\n  serve_stale 2h verify\n  servfail 2s\n  keepttl\n}",
    ).cache!;
    assert.deepEqual(c.success, { capacity: 5000, maxTtl: 120, minTtl: 10 });
    assert.deepEqual(c.denial, { capacity: 2500, maxTtl: 60, minTtl: 0 });
    assert.deepEqual(c.prefetch, { amount: 5, durationSec: 30, percentage: 25 });
    assert.deepEqual(c.serveStale, { durationSec: 7200, mode: "verify" });
    assert.equal(c.servfailTtl, 2);
    assert.equal(c.keepTtl, true);
    const d = block("cache {\n  success 100\n  prefetch 2\n  serve_stale\n  servfail 0\n}").cache!;
    assert.deepEqual(d.success, { capacity: 100, maxTtl: 3600, minTtl: 5 });
    assert.deepEqual(d.prefetch, { amount: 2, durationSec: 60, percentage: 10 });
    assert.deepEqual(d.serveStale, { durationSec: 3600, mode: "immediate" });
    assert.equal(d.servfailTtl, 0);
    assert.equal(block("cache {\n  prefetch 0\n}").cache!.prefetch, null);
    assert.deepEqual(block("cache {\n  serve_stale 10m\n}").cache!.serveStale, {
      durationSec: 600,
      mode: "immediate",
    });
  });

  test("errors", () => {
    failsIn(
      "cache {\n  success abc\n}",
      3,
      'Corefile:3: cache: success capacity "abc" is not a whole number; expected: success CAPACITY [TTL [MINTTL]]',
    );
    failsIn("cache 0", 2, "cache: TTL 0 is out of range; it must be at least 1");
    failsIn("cache -5", 2, "TTL -5 is out of range");
    failsIn("cache {\n  success\n}", 3, "success needs at least 1 argument");
    failsIn("cache {\n  success 1 2 3 4\n}", 3, 'success has too many arguments (unexpected "4")');
    failsIn("cache {\n  success 100 0\n}", 3, "success TTL 0 is out of range");
    failsIn(
      "cache {\n  denial 100 10 20\n}",
      3,
      "cache: denial MINTTL 20 is above its TTL 10; expected: denial CAPACITY",
    );
    failsIn("cache {\n  denial 100 10 -1\n}", 3, "denial MINTTL -1 is out of range");
    failsIn("cache {\n  denial 0\n}", 3, "denial capacity 0 is out of range");
    failsIn("cache {\n  prefetch\n}", 3, "prefetch needs at least 1 argument");
    failsIn(
      "cache {\n  prefetch 1 1m 5%\n}",
      3,
      "prefetch percentage 5% is out of range; it must be from 10% to 90%",
    );
    failsIn(
      "cache {\n  prefetch 1 1m 50\n}",
      3,
      'prefetch percentage "50" must be a whole number followed by %',
    );
    failsIn("cache {\n  prefetch 1 soon\n}", 3, 'prefetch duration "soon" is not a duration');
    failsIn("cache {\n  prefetch -1\n}", 3, "prefetch amount -1 is out of range");
    failsIn("cache {\n  serve_stale 1h later\n}", 3, 'serve_stale mode "later" is not immediate or verify');
    failsIn("cache {\n  serve_stale -1h\n}", 3, "serve_stale duration -1h must be at least 0s");
    failsIn("cache {\n  servfail 6m\n}", 3, "servfail duration 6m must be at most 5m");
    failsIn("cache {\n  servfail\n}", 3, "servfail needs 1 argument");
    failsIn("cache {\n  keepttl 5\n}", 3, 'keepttl has too many arguments (unexpected "5")');
    failsIn("cache {\n  disable success\n}", 3, 'option "disable" is not supported');
    failsIn(
      "cache {\n  sucess 1\n}",
      3,
      'cache: unknown option "sucess"; allowed: success, denial, prefetch, serve_stale, servfail, keepttl',
    );
    failsIn("cache {\n  success 1\n  success 2\n}", 4, 'option "success" given twice');
    failsIn("cache 30 a..b", 2, 'zone "a..b" is not a valid domain name');
  });
});

describe("forward", () => {
  test("defaults and address forms", () => {
    const f = block(
      "forward Example.ORG 1.2.3.4 1.2.3.5:5353 [2001:db8::1]:53 dns://9.9.9.9 dns://9.9.9.10:54 ::1 [::2]",
    ).forward!;
    assert.deepEqual(f, {
      from: "example.org.",
      to: [
        { host: "1.2.3.4", port: 53 },
        { host: "1.2.3.5", port: 5353 },
        { host: "2001:db8::1", port: 53 },
        { host: "9.9.9.9", port: 53 },
        { host: "9.9.9.10", port: 54 },
        { host: "::1", port: 53 },
        { host: "::2", port: 53 },
      ],
      except: [],
      forceTcp: false,
      preferUdp: false,
      maxFails: 2,
      expireMs: 10000,
      policy: "random",
      healthCheckMs: 500,
      healthCheckNoRec: false,
      healthCheckDomain: ".",
      maxConcurrent: 0,
      line: 2,
    });
  });

  test("every option", () => {
    const f = block(
      "forward . 1.1.1.1 {\n  except Foo.com bar.org\n  prefer_udp\n  max_fails 0\n  expire 1m30s\n  policy sequential\n  health_check 250ms no_rec domain Example.com\n  max_concurrent 1000\n}",
    ).forward!;
    assert.deepEqual(f.except, ["foo.com.", "bar.org."]);
    assert.deepEqual(
      [
        f.preferUdp,
        f.maxFails,
        f.expireMs,
        f.policy,
        f.healthCheckMs,
        f.healthCheckNoRec,
        f.healthCheckDomain,
        f.maxConcurrent,
      ],
      [true, 0, 90000, "sequential", 250, true, "example.com.", 1000],
    );
    assert.equal(block("forward . 1.1.1.1 {\n  policy round_robin\n}").forward!.policy, "round_robin");
    assert.equal(block("forward . 1.1.1.1 {\n  health_check 0s\n}").forward!.healthCheckMs, 0);
  });

  test("tls:// upstreams and the tls / tls_servername variants", async () => {
    const ca = await makeTestCa();
    const client = await ca.issue("client", ["client.test"], "clientAuth");
    const fsMap = { "/ca.pem": ca.ca, "/c.pem": client.cert, "/c.key": client.key };
    const fwd = (opts: string) =>
      parse(`. {\n  forward . tls://9.9.9.9 tls://[2001:db8::9]:8853 {\n${opts}\n  }\n}\n`, undefined, fsMap)
        .blocks[0]!.forward!;
    const plain = fwd("");
    assert.deepEqual(plain.to, [
      { host: "9.9.9.9", port: 853, tls: true },
      { host: "2001:db8::9", port: 8853, tls: true },
    ]);
    assert.equal(plain.tls, undefined);
    assert.deepEqual(fwd("    tls"), {
      ...plain,
      tls: {},
    });
    assert.deepEqual(fwd("    tls_servername dns.quad9.net\n    tls /ca.pem").tls, {
      ca: ca.ca,
      serverName: "dns.quad9.net",
    });
    assert.deepEqual(fwd("    tls /c.pem /c.key").tls, { cert: client.cert, key: client.key });
    assert.deepEqual(fwd("    tls /c.pem /c.key /ca.pem\n    tls_servername x.test").tls, {
      cert: client.cert,
      key: client.key,
      ca: ca.ca,
      serverName: "x.test",
    });
  });

  test("resolv.conf paths through the injected readFile", () => {
    const b = parse(". {\n  forward . /etc/resolv.conf ./local.conf 8.8.8.8\n}\n", undefined, {
      "./local.conf": "nameserver fe80::1%eth0\nnameserver not-an-ip\n",
    }).blocks[0]!;
    assert.deepEqual(b.forward!.to, [
      { host: "10.0.0.2", port: 53 },
      { host: "10.0.0.3", port: 53 },
      { host: "fe80::1", port: 53 },
      { host: "8.8.8.8", port: 53 },
    ]);
    failsIn("forward . /nope.conf", 2, 'forward: cannot read resolv.conf "/nope.conf": ENOENT');
    assert.throws(
      () => parse(". {\n  forward . /etc/empty\n}\n", undefined, { "/etc/empty": "# none\nsearch x\n" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.line === 2 &&
        e.message.includes('no nameserver lines found in "/etc/empty"'),
    );
  });

  test("errors", () => {
    failsIn("forward .", 2, "forward: needs at least 2 arguments, got 1; expected: forward FROM TO...");
    failsIn("forward . dns.google", 2, 'upstream "dns.google" is not an IP address; expected IP, IP:PORT');
    failsIn("forward . __PILLAR__UPSTREAM__SERVERS__", 2, "unsubstituted __PILLAR__ placeholder");
    failsIn("forward . 1.2.3.4:99999", 2, 'has a bad port "99999"');
    failsIn("forward . [1.2.3.4]:53", 2, "has no IPv6 address in brackets");
    failsIn("forward . grpc://1.1.1.1", 2, "transport grpc:// is not supported");
    failsIn("forward . 1.2.3.4:0", 2, "has port 0");
    failsIn("forward a..b 1.1.1.1", 2, 'FROM "a..b" is not a valid domain name');
    const many = Array.from({ length: 16 }, (_, i) => `10.0.0.${i + 1}`).join(" ");
    failsIn(`forward . ${many}`, 2, "16 upstreams configured; at most 15 are allowed");
    failsIn(
      "forward . 1.1.1.1 {\n  force_tcp\n  prefer_udp\n}",
      4,
      "force_tcp and prefer_udp cannot both be set",
    );
    failsIn(
      "forward . 1.1.1.1 {\n  force_tcp yes\n}",
      3,
      'force_tcp has too many arguments (unexpected "yes")',
    );
    failsIn("forward . 1.1.1.1 {\n  max_fails -1\n}", 3, "max_fails -1 is out of range");
    failsIn(
      "forward . 1.1.1.1 {\n  max_fails x\n}",
      3,
      'max_fails "x" is not a whole number; expected: max_fails N',
    );
    failsIn("forward . 1.1.1.1 {\n  expire -1s\n}", 3, "expire -1s must be at least 0s");
    failsIn(
      "forward . 1.1.1.1 {\n  policy fastest\n}",
      3,
      'unknown policy "fastest"; expected: policy random|round_robin|sequential',
    );
    failsIn("forward . 1.1.1.1 {\n  health_check 1s bogus\n}", 3, 'unknown health_check option "bogus"');
    failsIn("forward . 1.1.1.1 {\n  health_check 1s domain\n}", 3, "health_check domain needs a NAME");
    failsIn("forward . 1.1.1.1 {\n  health_check -1s\n}", 3, "health_check interval -1s must be at least 0s");
    failsIn("forward . 1.1.1.1 {\n  max_concurrent -2\n}", 3, "max_concurrent -2 is out of range");
    failsIn("forward . 1.1.1.1 {\n  except\n}", 3, "except needs at least 1 argument");
    failsIn("forward . tls://1.1.1.1 {\n  tls a b c d\n}", 3, 'tls has too many arguments (unexpected "d")');
    failsIn(
      "forward . tls://1.1.1.1 {\n  tls /missing/ca.pem\n}",
      3,
      'cannot read the CA file "/missing/ca.pem"',
    );
    failsIn("forward . tls://1.1.1.1 {\n  tls_servername\n}", 3, "tls_servername needs 1 argument");
    fails(
      ". {\n  forward . tls://1.1.1.1 {\n    tls /etc/resolv.conf\n  }\n}\n",
      3,
      '"/etc/resolv.conf" are not usable',
    );
    failsIn(
      "forward . 1.1.1.1 {\n  forse_tcp\n}",
      3,
      'forward: unknown option "forse_tcp"; allowed: except, force_tcp',
    );
  });
});

describe("kubernetes and autopath", () => {
  test("defaults take the block's zones", () => {
    const k = parse("cluster.local in-addr.arpa ip6.arpa {\n  kubernetes\n}\n").blocks[0]!.kubernetes!;
    assert.deepEqual(k, {
      zones: ["cluster.local.", "in-addr.arpa.", "ip6.arpa."],
      endpoint: null,
      kubeconfig: null,
      namespaces: [],
      labels: null,
      pods: "disabled",
      endpointPodNames: false,
      ttl: 5,
      noEndpoints: false,
      fallthrough: null,
      ignoreEmptyService: false,
      line: 2,
    });
  });

  test("every option", () => {
    const k = block(
      "kubernetes Cluster.Local 10.96.0.0/16 {\n  endpoint https://10.0.0.1:6443\n  kubeconfig /k.conf ctx1\n  namespaces kube-system default\n  labels app in (a, b)\n  pods verified\n  endpoint_pod_names\n  ttl 0\n  noendpoints\n  fallthrough in-addr.arpa\n  ignore empty_service\n}",
    ).kubernetes!;
    assert.deepEqual(k.zones, ["cluster.local.", "96.10.in-addr.arpa."]);
    assert.equal(k.endpoint, "https://10.0.0.1:6443");
    assert.deepEqual(k.kubeconfig, { file: "/k.conf", context: "ctx1" });
    assert.deepEqual(k.namespaces, ["kube-system", "default"]);
    assert.equal(k.labels, "app in (a, b)");
    assert.deepEqual(
      [k.pods, k.endpointPodNames, k.ttl, k.noEndpoints, k.ignoreEmptyService],
      ["verified", true, 0, true, true],
    );
    assert.deepEqual(k.fallthrough, ["in-addr.arpa."]);
    assert.deepEqual(
      block("kubernetes cluster.local {\n  fallthrough\n  kubeconfig /x\n}").kubernetes!.fallthrough,
      [],
    );
    assert.deepEqual(block("kubernetes cluster.local {\n  kubeconfig /x\n}").kubernetes!.kubeconfig, {
      file: "/x",
      context: null,
    });
  });

  test("errors", () => {
    failsIn("kubernetes in-addr.arpa", 2, "kubernetes: needs at least one non-reverse zone");
    failsIn(
      "kubernetes cluster.local {\n  ttl 3601\n}",
      3,
      "kubernetes: ttl 3601 is out of range; it must be from 0 to 3600",
    );
    failsIn(
      "kubernetes cluster.local {\n  ttl x\n}",
      3,
      'ttl "x" is not a whole number; expected: ttl SECONDS',
    );
    failsIn(
      "kubernetes cluster.local {\n  pods maybe\n}",
      3,
      'unknown pods mode "maybe"; expected: pods disabled|insecure|verified',
    );
    failsIn("kubernetes cluster.local {\n  ignore stuff\n}", 3, 'unknown ignore value "stuff"');
    failsIn("kubernetes cluster.local {\n  endpoint 10.0.0.1\n}", 3, "is not an http(s):// URL");
    failsIn("kubernetes cluster.local {\n  kubeconfig\n}", 3, "kubeconfig needs at least 1 argument");
    failsIn("kubernetes cluster.local {\n  namespaces\n}", 3, "namespaces needs at least 1 argument");
    failsIn("kubernetes cluster.local {\n  noendpoints 1\n}", 3, "noendpoints has too many arguments");
    failsIn("kubernetes cluster.local {\n  tls a b c\n}", 3, 'option "tls" is not supported');
    failsIn(
      "kubernetes cluster.local {\n  upstream\n}",
      3,
      'kubernetes: unknown option "upstream"; allowed: endpoint,',
    );
  });

  test("autopath", () => {
    const b = parse("cluster.local {\n  kubernetes\n  autopath @kubernetes\n}\n").blocks[0]!;
    assert.deepEqual(b.autopath, { source: "@kubernetes", zones: ["cluster.local."], search: [], line: 3 });
    const a = block("autopath Example.org /etc/resolv.conf").autopath!;
    assert.deepEqual(a, {
      source: "/etc/resolv.conf",
      zones: ["example.org."],
      search: ["example.com.", "corp.example."],
      line: 2,
    });
    failsIn(
      "autopath",
      2,
      "autopath: needs at least 1 argument, got 0; expected: autopath [ZONES...] RESOLV-CONF|@kubernetes",
    );
    failsIn("autopath @etcd", 2, '"@etcd": only @kubernetes');
    failsIn("autopath /missing", 2, 'cannot read resolv.conf "/missing"');
    failsIn(
      "errors\nautopath @kubernetes",
      3,
      "@kubernetes needs a kubernetes directive in the same server block",
    );
  });
});

describe("duplicate listeners", () => {
  test("the same zone and port twice is an error at the second block", () => {
    fails(
      "cluster.local:53 {\n}\nexample.org {\n}\nCluster.Local {\n}\n",
      5,
      "zone cluster.local.:53 is defined twice (first in the block at line 1)",
    );
    fails("a.org b.org a.org {\n}\n", 1, "zone a.org.:53 is defined twice in one block");
  });

  test("different ports or distinct binds are fine", () => {
    assert.equal(parse(".:53 {\n}\n.:1053 {\n}\n").blocks.length, 2);
    assert.equal(parse(". {\n bind 127.0.0.1\n}\n. {\n bind 127.0.0.2\n}\n").blocks.length, 2);
  });

  test("same bind address twice, or unbound beside bound, is an error", () => {
    fails(
      ". {\n bind 127.0.0.1 127.0.0.2\n}\n. {\n bind 127.0.0.2\n}\n",
      4,
      "zone .:53 on 127.0.0.2 is defined twice (first in the block at line 1)",
    );
    fails(
      ". {\n bind 127.0.0.1\n}\n. {\n}\n",
      4,
      "zone .:53 overlaps zone .:53 on 127.0.0.1 (block at line 1)",
    );
    fails(
      ". {\n}\n. {\n bind 127.0.0.1\n}\n",
      3,
      "zone .:53 on 127.0.0.1 overlaps zone .:53 (block at line 1)",
    );
  });
});

describe("parseResolvConf", () => {
  test("nameservers, search, domain, options, comments", () => {
    const r = parseResolvConf(
      "# comment\n; also comment\ndomain corp\nsearch a.example b.example # trailing\nnameserver 10.0.0.1\nnameserver  fe80::1%eth0 \nnameserver bogus\nnameserver\noptions ndots:5 timeout:2\noptions rotate\r\n",
    );
    assert.deepEqual(r, {
      nameservers: ["10.0.0.1", "fe80::1"],
      search: ["a.example", "b.example"],
      options: ["ndots:5", "timeout:2", "rotate"],
    });
    assert.deepEqual(parseResolvConf("search x\ndomain y\n").search, ["y"]);
    assert.deepEqual(parseResolvConf(""), { nameservers: [], search: [], options: [] });
  });
});

describe("parseDuration (Go syntax)", () => {
  test("forms", () => {
    const cases: [string, number | null][] = [
      ["30s", 30000],
      ["1m", 60000],
      ["1h30m", 5400000],
      ["500ms", 500],
      ["1.5s", 1500],
      ["250us", 0.25],
      ["0", 0],
      ["-2s", -2000],
      ["", null],
      ["5", null],
      ["1d", null],
      ["s", null],
    ];
    for (const [s, ms] of cases) assert.equal(parseDuration(s), ms, s);
  });
});
