// Unit tests for src/netif with a recording fake exec that simulates `ip` and `iptables`.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExecError } from "../src/errors/index.ts";
import {
  ALIVE_LIST,
  ALIVE_SECONDS,
  COMMENT_ALIVE,
  COMMENT_ALLOW_TRAFFIC,
  COMMENT_NO_CACHE,
  COMMENT_SKIP_CONNTRACK,
  classifyIptablesError,
  commandLine,
  createExec,
  detectBackend,
  type ExecResult,
  mustRun,
  NodeNetwork,
  type NodeNetworkOptions,
  rulesFor,
  type SetupErrorType,
} from "../src/netif/index.ts";

interface Link {
  kind: string;
  up: boolean;
  addrs: string[];
}

/** A tiny model of a node: links and iptables rules, driven by the command lines we run. */
class FakeNode {
  calls: string[] = [];
  links = new Map<string, Link>([["lo", { kind: "loopback", up: true, addrs: ["127.0.0.1"] }]]);
  rules: string[] = [];
  supportedTypes = new Set(["dummy", "bridge"]);
  /** Return this instead for command lines matching the pattern. */
  overrides: { match: RegExp; result: ExecResult }[] = [];
  saves: Record<string, string> = {};

  exec = async (file: string, args: string[]): Promise<ExecResult> => {
    const line = commandLine(file, args);
    this.calls.push(line);
    for (const o of this.overrides) if (o.match.test(line)) return o.result;
    if (file === "ip") return this.ip(args);
    if (/tables$/.test(file) || /tables-(legacy|nft)$/.test(file)) return this.iptables(file, args);
    if (file in this.saves) return ok(this.saves[file]);
    throw new ExecError(line, null, "spawn ENOENT");
  };

  private ip(a: string[]): ExecResult {
    const s = a.join(" ");
    let m = /^-j -d addr show dev (\S+)$/.exec(s);
    if (m) {
      const l = this.links.get(m[1]!);
      if (!l) return fail(1, `Device "${m[1]}" does not exist.`);
      const info = l.addrs.map((x) => ({ family: x.includes(":") ? "inet6" : "inet", local: x }));
      const kind = l.kind === "loopback" ? { link_type: "loopback" } : { linkinfo: { info_kind: l.kind } };
      return ok(JSON.stringify([{ ifname: m[1], flags: l.up ? ["UP"] : [], ...kind, addr_info: info }]));
    }
    m = /^link add (\S+) type (\S+)$/.exec(s);
    if (m) {
      if (this.links.has(m[1]!)) return fail(2, "RTNETLINK answers: File exists");
      if (!this.supportedTypes.has(m[2]!)) return fail(2, "Error: Unknown device type.");
      this.links.set(m[1]!, { kind: m[2]!, up: false, addrs: [] });
      return ok("");
    }
    m = /^(?:-6 )?addr replace (\S+)\/\d+ dev (\S+)/.exec(s);
    if (m) {
      const l = this.links.get(m[2]!);
      if (!l) return fail(1, "Cannot find device");
      if (!l.addrs.includes(m[1]!)) l.addrs.push(m[1]!);
      return ok("");
    }
    m = /^(?:-6 )?addr del (\S+)\/\d+ dev (\S+)$/.exec(s);
    if (m) {
      const l = this.links.get(m[2]!)!;
      if (!l.addrs.includes(m[1]!)) return fail(2, "Error: ipv4: Address not found.");
      l.addrs = l.addrs.filter((x) => x !== m![1]);
      return ok("");
    }
    m = /^link set dev (\S+) up$/.exec(s);
    if (m) {
      this.links.get(m[1]!)!.up = true;
      return ok("");
    }
    m = /^link del dev (\S+)$/.exec(s);
    if (m) {
      if (!this.links.delete(m[1]!)) return fail(1, `Cannot find device "${m[1]}"`);
      return ok("");
    }
    return fail(255, `fake ip: unknown command ${s}`);
  }

  private iptables(file: string, a: string[]): ExecResult {
    assert.deepEqual(a.slice(0, 2), ["-w", "5"]);
    assert.equal(a[2], "-t");
    const table = a[3]!;
    const op = a[4]!;
    const chain = a[5]!;
    if (op === "-S") {
      const prefix = `${file} ${table} ${chain} `;
      const lines = this.rules
        .filter((r) => r.startsWith(prefix))
        .map((r) => `-A ${chain} ${r.slice(prefix.length)}`);
      return ok(lines.map((l) => `${l}\n`).join(""));
    }
    if (op === "-I") assert.equal(a[6], "1");
    const rest = a.slice(op === "-I" ? 7 : 6);
    const key = `${file} ${table} ${chain} ${rest.join(" ")}`;
    const i = this.rules.indexOf(key);
    if (op === "-C")
      return i >= 0 ? ok("") : fail(1, "iptables: Bad rule (does a matching rule exist in that chain?).");
    if (op === "-I") {
      this.rules.unshift(key);
      return ok("");
    }
    if (op === "-D") {
      if (i < 0) return fail(1, "iptables: Bad rule (does a matching rule exist in that chain?).");
      this.rules.splice(i, 1);
      return ok("");
    }
    return fail(2, "bad op");
  }
}

const ok = (stdout: string): ExecResult => ({ stdout, stderr: "", code: 0 });
const fail = (code: number, stderr: string): ExecResult => ({ stdout: "", stderr, code });
const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

function network(node: FakeNode, over: Partial<NodeNetworkOptions> = {}) {
  const errors: SetupErrorType[] = [];
  const net = new NodeNetwork({
    interfaceName: "nodelocaldns",
    localIps: ["169.254.20.10", "fd00::a"],
    dnsPort: 53,
    healthPort: 8080,
    setupInterface: true,
    setupIptables: true,
    syncIntervalMs: 60_000,
    exec: node.exec,
    log: quietLog,
    onError: (t) => errors.push(t),
    backend: "default",
    ...over,
  });
  return { net, errors };
}

const SKIP = JSON.stringify(COMMENT_SKIP_CONNTRACK);
const ALLOW = JSON.stringify(COMMENT_ALLOW_TRAFFIC);

describe("rulesFor", () => {
  test("per IP: conditional NOTRACK under its ACCEPT (inserted first), node-cache's others, the alive mark", () => {
    const rules = rulesFor(["169.254.20.10", "fd00::a"], 53, 8080);
    assert.equal(rules.length, 30);
    const c = ["-m", "comment", "--comment"];
    const sk = [...c, COMMENT_SKIP_CONNTRACK];
    const al = [...c, COMMENT_ALLOW_TRAFFIC];
    const ip = "169.254.20.10";
    const to = (p: string) => ["-p", p, "-d", ip, "--dport", "53"];
    const from = (p: string) => ["-p", p, "-s", ip, "--sport", "53"];
    const alive = [
      "-m",
      "recent",
      "--rcheck",
      "--seconds",
      String(ALIVE_SECONDS),
      "--name",
      ALIVE_LIST,
      "--rdest",
    ];
    const r = (table: string, chain: string, args: string[]) => ({ family: 4, table, chain, args });
    const socket = ["-m", "socket", "--nowildcard", "-j", "NOTRACK"];
    const conditional = (p: string) => [...to(p), ...alive, ...socket, ...sk];
    assert.deepEqual(rules.slice(0, 15), [
      r("raw", "PREROUTING", [...to("tcp"), "-j", "ACCEPT", ...c, COMMENT_NO_CACHE]),
      r("raw", "PREROUTING", conditional("tcp")),
      r("raw", "PREROUTING", [...to("udp"), "-j", "ACCEPT", ...c, COMMENT_NO_CACHE]),
      r("raw", "PREROUTING", conditional("udp")),
      r("filter", "INPUT", [...to("tcp"), "-j", "ACCEPT", ...al]),
      r("filter", "INPUT", [...to("udp"), "-j", "ACCEPT", ...al]),
      r("raw", "OUTPUT", [...from("tcp"), "-j", "NOTRACK", ...sk]),
      r("raw", "OUTPUT", [...from("udp"), "-j", "NOTRACK", ...sk]),
      r("filter", "OUTPUT", [...from("tcp"), "-j", "ACCEPT", ...al]),
      r("filter", "OUTPUT", [...from("udp"), "-j", "ACCEPT", ...al]),
      r("raw", "OUTPUT", [...to("tcp"), "-j", "NOTRACK", ...sk]),
      r("raw", "OUTPUT", [...to("udp"), "-j", "NOTRACK", ...sk]),
      r("raw", "OUTPUT", ["-p", "tcp", "-d", ip, "--dport", "8080", "-j", "NOTRACK", ...sk]),
      r("raw", "OUTPUT", ["-p", "tcp", "-s", ip, "--sport", "8080", "-j", "NOTRACK", ...sk]),
      r("raw", "OUTPUT", [
        ...from("udp"),
        "-m",
        "recent",
        "--set",
        "--name",
        ALIVE_LIST,
        "--rsource",
        ...c,
        COMMENT_ALIVE,
      ]),
    ]);
    for (const r of rules.slice(15)) {
      assert.equal(r.family, 6);
      assert.ok(r.args.includes("fd00::a"));
    }
    assert.equal(rulesFor(["169.254.20.10"], 53, 8080, 8181).length, 17);
    assert.equal(rulesFor(["169.254.20.10"], 53, 8080, 8080).length, 15);
  });
});

describe("NodeNetwork with a fake node", () => {
  test("exact command lines: interface, then -C before -I for each family", async () => {
    const node = new FakeNode();
    const { net, errors } = network(node);
    await net.setupInterface();
    assert.deepEqual(node.calls, [
      "ip -j -d addr show dev nodelocaldns",
      "ip link add nodelocaldns type dummy",
      "ip -j -d addr show dev nodelocaldns",
      "ip addr replace 169.254.20.10/32 dev nodelocaldns",
      "ip -6 addr replace fd00::a/128 dev nodelocaldns nodad",
      "ip link set dev nodelocaldns up",
    ]);
    node.calls = [];
    const report = await net.setupRules();
    assert.deepEqual(report, { present: 0, added: 30, failed: 0 });
    // -C and -I per rule, one look at raw PREROUTING's order per family, one for stale fallbacks.
    assert.equal(node.calls.length, 64, node.calls.slice(58).join("\n"));
    const noCache = JSON.stringify(COMMENT_NO_CACHE);
    assert.equal(
      node.calls[0],
      `iptables -w 5 -t raw -C PREROUTING -p tcp -d 169.254.20.10 --dport 53 -j ACCEPT -m comment --comment ${noCache}`,
    );
    assert.equal(
      node.calls[3],
      `iptables -w 5 -t raw -I PREROUTING 1 -p tcp -d 169.254.20.10 --dport 53 -m recent --rcheck --seconds 1 --name nodelocaldns --rdest -m socket --nowildcard -j NOTRACK -m comment --comment ${SKIP}`,
    );
    assert.equal(
      node.calls[9],
      `iptables -w 5 -t filter -I INPUT 1 -p tcp -d 169.254.20.10 --dport 53 -j ACCEPT -m comment --comment ${ALLOW}`,
    );
    assert.equal(
      node.calls[29],
      `iptables -w 5 -t raw -I OUTPUT 1 -p udp -s 169.254.20.10 --sport 53 -m recent --set --name nodelocaldns --rsource -m comment --comment ${JSON.stringify(COMMENT_ALIVE)}`,
    );
    assert.equal(node.calls[60], "iptables -w 5 -t raw -S PREROUTING");
    assert.equal(node.calls[61], "ip6tables -w 5 -t raw -S PREROUTING");
    assert.equal(node.calls[62], "iptables -w 5 -t nat -S PREROUTING");
    assert.deepEqual(errors, []);
  });

  test("never inserts a rule twice; a sync restores only what was removed", async () => {
    const node = new FakeNode();
    const { net } = network(node);
    await net.setupInterface();
    await net.setupRules();
    assert.deepEqual(await net.setupRules(), { present: 30, added: 0, failed: 0 });
    assert.equal(node.rules.length, 30);
    assert.equal(new Set(node.rules).size, 30);
    // Someone deletes one rule and an address; the next sync puts back exactly those.
    const gone = node.rules.findLast((r) => r.includes("INPUT"))!;
    node.rules.splice(node.rules.indexOf(gone), 1);
    node.links.get("nodelocaldns")!.addrs = ["fd00::a"];
    node.calls = [];
    await net.syncOnce();
    assert.equal(node.rules.length, 30);
    assert.ok(node.rules.includes(gone));
    const inserts = node.calls.filter((c) => / -I /.test(c));
    assert.equal(inserts.length, 1);
    assert.deepEqual(
      node.calls.filter((c) => c.startsWith("ip ")),
      ["ip -j -d addr show dev nodelocaldns", "ip addr replace 169.254.20.10/32 dev nodelocaldns"],
    );
  });

  test("startSync runs syncOnce periodically and stop() ends it", async () => {
    const node = new FakeNode();
    const { net } = network(node, { syncIntervalMs: 20 });
    await net.setupInterface();
    await net.setupRules();
    node.rules = [];
    net.startSync();
    await new Promise((r) => setTimeout(r, 120));
    net.stop();
    assert.equal(node.rules.length, 30);
    const n = node.calls.length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(node.calls.length, n, "no more commands after stop()");
  });

  test("teardown: rules first (every duplicate), then the interface; then nothing more", async () => {
    const node = new FakeNode();
    const { net, errors } = network(node);
    await net.setupInterface();
    await net.setupRules();
    node.rules.push(node.rules[0]!); // a duplicate left by someone else
    // node-cache's unconditional NOTRACK (an upgrade): ours to remove too
    const unconditional = `iptables raw PREROUTING -p udp -d 169.254.20.10 --dport 53 -j NOTRACK -m comment --comment ${COMMENT_SKIP_CONNTRACK}`;
    node.rules.push(unconditional);
    node.rules.push("iptables raw PREROUTING -p udp -d 10.0.0.1 --dport 53 -j NOTRACK"); // not ours
    node.calls = [];
    await net.teardown();
    assert.deepEqual(node.rules, ["iptables raw PREROUTING -p udp -d 10.0.0.1 --dport 53 -j NOTRACK"]);
    const firstIp = node.calls.findIndex((c) => c.startsWith("ip "));
    const lastTables = node.calls.findLastIndex((c) => /tables /.test(c));
    assert.ok(lastTables < firstIp, "every iptables call precedes the interface removal");
    assert.equal(node.calls.at(-1), "ip link del dev nodelocaldns");
    assert.equal(
      node.calls.filter((c) => / -D /.test(c)).length,
      // each current rule (and the duplicate) until missing; the 4 old forms (one present)
      30 + 1 + 30 + 1 + 4,
      "-D until each reports missing",
    );
    assert.equal(node.links.has("nodelocaldns"), false);
    assert.deepEqual(errors, []);
    node.calls = [];
    await net.syncOnce();
    await net.setupRules();
    assert.deepEqual(node.calls, [], "nothing runs after teardown");
  });

  test("errors: lock contention is iptables_lock, others iptables; the rest still gets done", async () => {
    const node = new FakeNode();
    node.overrides.push({
      match: /^iptables .* -C PREROUTING -p tcp .* -j ACCEPT/,
      result: fail(4, "Another app is currently holding the xtables lock. Stopped waiting after 5s."),
    });
    node.overrides.push({
      match: /^ip6tables .* -I INPUT 1 -p udp/,
      result: fail(2, "ip6tables v1.8.9: bad argument"),
    });
    const { net, errors } = network(node);
    const report = await net.setupRules();
    assert.deepEqual(report, { present: 0, added: 28, failed: 2 });
    // the order repair of the pair with the missing ACCEPT meets the lock again
    assert.deepEqual(errors, ["iptables_lock", "iptables", "iptables_lock"]);
  });

  test("classifyIptablesError", () => {
    assert.equal(
      classifyIptablesError(new ExecError("iptables -C", 4, "holding the xtables lock")),
      "iptables_lock",
    );
    assert.equal(
      classifyIptablesError(new ExecError("iptables -C", 4, "Resource temporarily unavailable")),
      "iptables_lock",
    );
    assert.equal(
      classifyIptablesError(new ExecError("iptables -C", 4, "Permission denied (you must be root)")),
      "iptables",
    );
    assert.equal(classifyIptablesError(new ExecError("iptables -C", 2, "Bad argument")), "iptables");
  });

  test("dummy unavailable: falls back to a bridge", async () => {
    const node = new FakeNode();
    node.supportedTypes = new Set(["bridge"]);
    const warnings: string[] = [];
    const { net, errors } = network(node, { log: { ...quietLog, warn: (m: string) => warnings.push(m) } });
    await net.setupInterface();
    assert.deepEqual(node.calls.slice(1, 3), [
      "ip link add nodelocaldns type dummy",
      "ip link add nodelocaldns type bridge",
    ]);
    assert.deepEqual(node.links.get("nodelocaldns"), {
      kind: "bridge",
      up: true,
      addrs: ["169.254.20.10", "fd00::a"],
    });
    assert.match(warnings[0]!, /as type bridge.*Unknown device type/);
    assert.deepEqual(errors, []);
    await net.teardown();
    assert.equal(node.links.has("nodelocaldns"), false);
  });

  test("no link type works: addresses on lo; teardown removes only ours, never lo", async () => {
    const node = new FakeNode();
    node.supportedTypes = new Set();
    node.links.get("lo")!.addrs.push("fd00::a"); // already there before us: not ours to remove
    const { net, errors } = network(node);
    await net.setupInterface();
    assert.equal(net.link.usingLoopback, true);
    assert.deepEqual(node.links.get("lo")!.addrs, ["127.0.0.1", "fd00::a", "169.254.20.10"]);
    node.links.get("lo")!.addrs = ["127.0.0.1", "fd00::a"];
    await net.syncOnce(); // restored on lo, no link creation attempted again
    assert.deepEqual(node.links.get("lo")!.addrs, ["127.0.0.1", "fd00::a", "169.254.20.10"]);
    assert.equal(node.calls.filter((c) => c.startsWith("ip link add")).length, 2);
    node.calls = [];
    await net.teardown();
    assert.deepEqual(node.links.get("lo")!.addrs, ["127.0.0.1", "fd00::a"]);
    assert.ok(node.calls.includes("ip addr del 169.254.20.10/32 dev lo"));
    assert.ok(!node.calls.some((c) => c.startsWith("ip link del")));
    assert.deepEqual(errors, []);
  });

  test("adopts an existing link of that name and adds only missing addresses", async () => {
    const node = new FakeNode();
    node.links.set("nodelocaldns", { kind: "dummy", up: true, addrs: ["fd00:0:0::a"] });
    const { net } = network(node);
    await net.setupInterface();
    assert.deepEqual(node.calls, [
      "ip -j -d addr show dev nodelocaldns",
      "ip addr replace 169.254.20.10/32 dev nodelocaldns",
    ]);
  });

  test("interface failures: interface_add when creation fails (and setupInterface throws), interface_check later", async () => {
    const node = new FakeNode();
    node.overrides.push({
      match: /^ip link add/,
      result: fail(2, "RTNETLINK answers: Operation not permitted"),
    });
    node.overrides.push({ match: /dev lo/, result: fail(2, "RTNETLINK answers: Operation not permitted") });
    const { net, errors } = network(node);
    await assert.rejects(net.setupInterface(), /Operation not permitted/);
    assert.deepEqual(errors, ["interface_add"]);
    const node2 = new FakeNode();
    node2.links.set("nodelocaldns", { kind: "dummy", up: true, addrs: [] });
    node2.overrides.push({ match: /addr replace/, result: fail(2, "RTNETLINK answers: Permission denied") });
    const n2 = network(node2);
    await n2.net.syncOnce();
    assert.deepEqual(n2.errors, ["interface_check"]);
  });

  test("rejects bad flags before touching the node", () => {
    const node = new FakeNode();
    assert.throws(() => network(node, { localIps: ["169.254.20.300"] }), /-localip/);
    assert.throws(() => network(node, { localIps: [] }), /-localip/);
    assert.throws(() => network(node, { interfaceName: "a-very-long-interface-name" }), /-interfacename/);
    assert.deepEqual(node.calls, []);
  });
});

describe("iptables back end detection", () => {
  const hint = "*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n";
  const rulesN = (n: number) => `*filter\n:INPUT ACCEPT [0:0]\n${"-A INPUT -j ACCEPT\n".repeat(n)}COMMIT\n`;

  test("only one variant installed: the node's default iptables", async () => {
    const node = new FakeNode();
    node.saves = { "iptables-nft-save": "" };
    assert.deepEqual(await detectBackend(node.exec), {
      backend: "default",
      binaries: { iptables: "iptables", ip6tables: "ip6tables" },
    });
  });

  test("kubelet's hint chain wins; then the variant with more rules; a tie keeps the default", async () => {
    const node = new FakeNode();
    node.saves = {
      "iptables-nft-save": "",
      "iptables-legacy-save": hint,
      "ip6tables-nft-save": "",
      "ip6tables-legacy-save": "",
    };
    assert.equal((await detectBackend(node.exec)).backend, "legacy");
    node.saves["ip6tables-nft-save"] = hint;
    assert.deepEqual(await detectBackend(node.exec), {
      backend: "nft",
      binaries: { iptables: "iptables-nft", ip6tables: "ip6tables-nft" },
    });
    node.saves = { "iptables-nft-save": rulesN(2), "iptables-legacy-save": rulesN(5) };
    assert.equal((await detectBackend(node.exec)).backend, "legacy");
    node.saves = { "iptables-nft-save": rulesN(3), "iptables-legacy-save": rulesN(3) };
    assert.equal((await detectBackend(node.exec)).backend, "default");
  });
});

describe("real exec", () => {
  test("exit status is returned; spawn failures and mustRun failures are ExecError naming the command", async () => {
    const exec = createExec({ timeoutMs: 10_000 });
    assert.deepEqual(await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]), {
      stdout: "out\n",
      stderr: "err\n",
      code: 3,
    });
    await assert.rejects(exec("/nonexistent/nldns-binary", ["a b"]), (e: unknown) => {
      assert.ok(e instanceof ExecError);
      assert.match(e.command, /^\/nonexistent\/nldns-binary "a b"$/);
      return true;
    });
    await assert.rejects(mustRun(exec, "sh", ["-c", "echo nope >&2; exit 2"]), (e: unknown) => {
      assert.ok(e instanceof ExecError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /exit 2.*sh -c "echo nope >&2; exit 2": nope/);
      return true;
    });
    const slow = createExec({ timeoutMs: 100 });
    await assert.rejects(slow("sleep", ["5"]), /killed/);
  });
});
