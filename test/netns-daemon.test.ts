// End to end on a simulated node: the REAL daemon (dist/main.js) runs inside a fresh network
// namespace "node" with a real unbound upstream beside it, owns its interface and node-cache's
// iptables rules (IPv4 and IPv6), serves a "pod" namespace joined by a veth pair without conntrack,
// restores what someone removed, removes only its own things on SIGTERM, keeps them with
// -skipteardown (adopted by the next run without duplicates), and counts set-up failures.

import assert from "node:assert/strict";
import { chmod, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connectPod, type Netns } from "./fixtures/netif-runner.ts";
import {
  ALLOW_TRAFFIC,
  addrs,
  digIn,
  digMany,
  expectedRules,
  IP,
  linkKind,
  logMessages,
  nodeCacheCorefile,
  ourRules,
  rawPackets,
  ruleLines,
  SKIP_CONNTRACK,
  scopedNetns,
  setupErrors,
  startDaemonIn,
  startUnboundIn,
  until,
} from "./fixtures/netns-daemon.ts";
import { cleanupAll, daemonEntry, tempDir } from "./support/index.ts";

const isRoot = process.getuid?.() === 0;
const V4 = ["169.254.20.10", "10.96.0.10"];
const V6 = ["fd00::a", "fd00:10::a"];
const LOCAL = [...V4, ...V6];
const HEALTH = 18080;
const METRICS = "127.0.0.1:19353";
const UPSTREAM = { host: "127.0.0.53", port: 5353 };
const COREFILE = nodeCacheCorefile(LOCAL, `${UPSTREAM.host}:${UPSTREAM.port}`, HEALTH);
const ARGS = [
  "-localip",
  LOCAL.join(","),
  "-setupinterface=true",
  "-setupiptables=true",
  "-syncinterval",
  "1s",
  "-health-port",
  String(HEALTH),
  "-metrics-listen-address",
  METRICS,
];
const EXPECTED = LOCAL.flatMap((ip) => expectedRules(ip, HEALTH).map((r) => r.line)).sort();
const ERRORTYPES = ["iptables", "iptables_lock", "interface_add", "interface_check"];

/** iptables arguments: `spec` split on spaces, then the comment match (iptables moves it before -j). */
function withComment(spec: string, comment: string): string[] {
  return [...spec.split(" "), "-m", "comment", "--comment", comment];
}

/** Our rules for LOCAL only (a node-cache rule for another IP, planted by the test, is not ours). */
async function mine(ns: Netns): Promise<string[]> {
  return (await ourRules(ns)).filter((l) => !l.includes("169.254.20.11")).sort();
}

/** Everything on the node that is not ours: all rules of both families, links, lo's and other0's addresses. */
async function othersState(ns: Netns) {
  const rules: string[] = [];
  for (const f of [4, 6] as const)
    for (const t of ["raw", "filter"])
      rules.push(
        ...(await ruleLines(ns, f, t)).filter((l) => !EXPECTED.includes(l)).map((l) => `${f} ${t} ${l}`),
      );
  const links = (JSON.parse(await ns.run(IP, ["-j", "link", "show"])) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) => n !== "nodelocaldns")
    .sort();
  return { rules, links, lo: (await addrs(ns, "lo"))?.sort(), other0: (await addrs(ns, "other0"))?.sort() };
}

after(() => cleanupAll());

describe("the daemon on a node (network namespaces)", {
  skip: isRoot ? false : "needs root: creates network namespaces, links and iptables rules",
  timeout: 150_000, // 15 rules per address now, each sync pass checks 60; slow on a busy node
}, () => {
  test("interface and rules, pod queries without conntrack, sync restores, SIGTERM removes only ours", async () => {
    const node = await scopedNetns("nldns-node");
    const pod = await scopedNetns("nldns-pod");
    await connectPod(node, pod, { localIps: LOCAL });
    // Someone else's things on the node: they must survive us untouched.
    await node.run(
      "iptables",
      withComment("-t raw -A PREROUTING -p udp --dport 5353 -j NOTRACK", "someone else"),
    );
    await node.run(
      "ip6tables",
      withComment("-t raw -A OUTPUT -p tcp --dport 8080 -j NOTRACK", "someone else"),
    );
    // A node-cache rule for an address that is not ours (another instance's): not ours to remove.
    await node.run(
      "iptables",
      withComment("-t filter -A INPUT -d 169.254.20.11/32 -p udp -m udp --dport 53 -j ACCEPT", ALLOW_TRAFFIC),
    );
    // A stateful rule per family, as kube-proxy has on every node: it turns conntrack on here.
    for (const cmd of ["iptables", "ip6tables"]) {
      const spec = "-t filter -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
      await node.run(cmd, withComment(spec, "someone else"));
    }
    await node.run(IP, ["link", "add", "other0", "type", "bridge"]);
    await node.run(IP, ["addr", "add", "192.0.2.1/32", "dev", "other0"]);
    await node.run(IP, ["addr", "add", "10.96.0.99/32", "dev", "lo"]);
    const before = await othersState(node);

    await startUnboundIn(node, UPSTREAM.host, UPSTREAM.port);
    const daemon = await startDaemonIn(node, { corefile: COREFILE, args: ARGS });

    // 1. The interface carries every local IP (fallback link type logged where dummy is missing).
    const show = await node.run(IP, ["addr", "show", "dev", "nodelocaldns"]);
    assert.match(show, /<[^>]*\bUP\b[^>]*>/, show);
    for (const ip of V4) assert.match(show, new RegExp(`inet ${ip.replaceAll(".", "\\.")}/32 `), show);
    for (const ip of V6) assert.match(show, new RegExp(`inet6 ${ip}/128 `), show);
    const kind = await linkKind(node, "nodelocaldns");
    const fallback = logMessages(daemon, /created interface nodelocaldns as type/);
    if (kind === "dummy") assert.deepEqual(fallback, []);
    else {
      assert.equal(fallback.length, 1, daemon.output());
      assert.match(fallback[0]!, new RegExp(`as type ${kind} \\(ip link add nodelocaldns type dummy: `));
    }
    // Every node-cache rule, exactly once, with its comment, in front of what was there.
    assert.deepEqual(await mine(node), EXPECTED);
    for (const [f, table, chain] of [
      [4, "raw", "PREROUTING"],
      [4, "filter", "INPUT"],
      [6, "raw", "OUTPUT"],
      [6, "filter", "INPUT"],
    ] as const) {
      const lines = await ruleLines(node, f, table, chain);
      const firstForeign = lines.findIndex((l) => !EXPECTED.includes(l));
      assert.ok(firstForeign > 0, `${table} ${chain}: ${lines.join("\n")}`);
      assert.ok(
        lines.slice(firstForeign).every((l) => !EXPECTED.includes(l)),
        `ours first in ${chain}`,
      );
    }
    const clean = await setupErrors(node, METRICS);
    for (const t of ERRORTYPES) assert.equal(clean.get(t), 0, `setup_errors_total{errortype="${t}"}`);
    const health = await node.run("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `http://${V4[0]}:${HEALTH}/health`,
    ]);
    assert.equal(health, "200");

    // 2. The pod asks every local IP over UDP and TCP; the NOTRACK rules count the packets.
    const counters = async () => {
      const c: Record<string, number> = {};
      for (const ip of LOCAL)
        for (const p of ["udp", "tcp"] as const) {
          c[`${ip} ${p} in`] = await rawPackets(node, ip, "PREROUTING", p, "dpt");
          c[`${ip} ${p} out`] = await rawPackets(node, ip, "OUTPUT", p, "spt");
        }
      return c;
    };
    // Forget what was tracked before our rules existed (the daemon's own start-up traffic).
    await node.run("conntrack", ["-F"]);
    await node.run("conntrack", ["-F", "-f", "ipv6"]);
    const c0 = await counters();
    // UDP: more queries than the daemon's own 1/s self-probe could add to the counters meanwhile.
    const [nUdp, nTcp] = [20, 5];
    for (const ip of LOCAL) {
      assert.deepEqual(
        await digMany(pod, ip, "a.example.test", nUdp, false),
        Array(nUdp).fill("10.1.2.3"),
        ip,
      );
      assert.deepEqual(
        await digMany(pod, ip, "a.example.test", nTcp, true),
        Array(nTcp).fill("10.1.2.3"),
        ip,
      );
    }
    const c1 = await counters();
    const delta = (k: string) => c1[k]! - c0[k]!;
    for (const ip of LOCAL) {
      assert.ok(delta(`${ip} udp in`) >= nUdp, `udp to ${ip}: +${delta(`${ip} udp in`)}`);
      assert.ok(delta(`${ip} udp out`) >= nUdp, `udp from ${ip}: +${delta(`${ip} udp out`)}`);
      // a TCP query is at least SYN, ACK, query, FIN in and SYN-ACK, answer out
      assert.ok(delta(`${ip} tcp in`) >= 4 * nTcp, `tcp to ${ip}: +${delta(`${ip} tcp in`)}`);
      assert.ok(delta(`${ip} tcp out`) >= 2 * nTcp, `tcp from ${ip}: +${delta(`${ip} tcp out`)}`);
    }
    // No conntrack entry for DNS to a local IP; a query to an address without our rules is tracked.
    await digMany(pod, "10.244.0.1", "a.example.test", 1, false);
    const tracked = `${await node.run("conntrack", ["-L"])}${await node.run("conntrack", ["-L", "-f", "ipv6"])}`;
    assert.match(tracked, /src=10\.244\.0\.2 dst=10\.244\.0\.1 .*dport=53 /, "control not tracked");
    for (const line of tracked.split("\n"))
      for (const ip of LOCAL) assert.ok(!line.includes(`dst=${ip} `) || !line.includes("dport=53 "), line);

    // 3. Someone deletes two rules and an address: the next sync (every 1 s) restores them.
    const restoredFrom = daemon.lines().length;
    const del4 = "-t raw -D OUTPUT -s 10.96.0.10/32 -p udp -m udp --sport 53 -j NOTRACK";
    await node.run("iptables", withComment(del4, SKIP_CONNTRACK));
    const del6 = "-t filter -D INPUT -d fd00::a/128 -p tcp -m tcp --dport 53 -j ACCEPT";
    await node.run("ip6tables", withComment(del6, ALLOW_TRAFFIC));
    await node.run(IP, ["addr", "del", `${V4[0]}/32`, "dev", "nodelocaldns"]);
    const took = await until(
      "rules and address restored",
      async () =>
        (await addrs(node, "nodelocaldns"))?.includes(V4[0]!) === true &&
        (await mine(node)).join("\n") === EXPECTED.join("\n"),
      8000,
    );
    // A sync pass checks 60 rules one iptables run each: on a busy node that alone can take 2 s.
    assert.ok(took <= 8000, `restored after ${took} ms`);
    await daemon.waitForLine(/Added back addresses 169\.254\.20\.10 to nodelocaldns/, 2000, restoredFrom);
    const readded = logMessages(daemon, /^Added back nodelocaldns rule/).slice(EXPECTED.length);
    assert.equal(readded.length, 2, readded.join("\n"));
    for (const tcp of [false, true])
      assert.equal(await digIn(pod, V4[0]!, "b.example.test", tcp), "10.1.2.4");

    // The whole interface deleted: recreated with every address; the bound sockets keep serving.
    await node.run(IP, ["link", "del", "nodelocaldns"]);
    await until(
      "interface recreated",
      async () => (await addrs(node, "nodelocaldns"))?.length === LOCAL.length,
      8000,
    );
    for (const ip of LOCAL) assert.equal(await digIn(pod, ip, "b.example.test", true), "10.1.2.4", ip);

    // 4. SIGTERM: exit 0; our rules and interface are gone, everything else is as it was.
    const exit = await daemon.stop("SIGTERM", 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.output());
    assert.ok(logMessages(daemon, /^Tearing down$/).length === 1);
    assert.equal(await addrs(node, "nodelocaldns"), null);
    assert.deepEqual(await mine(node), []);
    assert.deepEqual(await othersState(node), before);
  });

  test("-skipteardown keeps interface and rules; the next daemon adopts them without duplicates", async () => {
    const node = await scopedNetns("nldns-node");
    await startUnboundIn(node, UPSTREAM.host, UPSTREAM.port);
    const first = await startDaemonIn(node, { corefile: COREFILE, args: [...ARGS, "-skipteardown=true"] });
    assert.deepEqual(await first.stop("SIGTERM", 15_000), { code: 0, signal: null }, first.output());
    assert.deepEqual(logMessages(first, /^Tearing down$/), []);
    assert.deepEqual((await addrs(node, "nodelocaldns"))?.sort(), [...LOCAL].sort());
    assert.deepEqual(await mine(node), EXPECTED);

    const second = await startDaemonIn(node, {
      corefile: COREFILE,
      args: ARGS,
      env: { NODELOCALDNS_LOG_LEVEL: "debug" },
    });
    assert.deepEqual(logMessages(second, /^Added interface|^created interface|^Added back/), []);
    assert.equal(logMessages(second, /already exists$/).length, EXPECTED.length, "every rule found in place");
    // After at least one more sync pass, still exactly one copy of each rule.
    await until(
      "a sync pass",
      async () => logMessages(second, /already exists$/).length >= 2 * EXPECTED.length,
    );
    assert.deepEqual(await mine(node), EXPECTED);
    assert.equal(await digIn(node, V4[1]!, "a.example.test", true), "10.1.2.3");
    assert.deepEqual(await second.stop("SIGTERM", 15_000), { code: 0, signal: null }, second.output());
    assert.equal(await addrs(node, "nodelocaldns"), null);
    assert.deepEqual(await mine(node), []);
  });

  test("iptables failures are counted by errortype; the daemon keeps serving", async () => {
    const node = await scopedNetns("nldns-node");
    await startUnboundIn(node, UPSTREAM.host, UPSTREAM.port);
    // PATH with `ip`, an `iptables` that always fails on the xtables lock, and no ip6tables at all.
    const bin = await tempDir("nldns-bin-");
    await symlink(IP, join(bin, "ip"));
    const fake = join(bin, "iptables");
    await writeFile(
      fake,
      "#!/bin/sh\necho 'Another app is currently holding the xtables lock.' >&2\nexit 4\n",
    );
    await chmod(fake, 0o755);
    const daemon = await startDaemonIn(node, { corefile: COREFILE, args: ARGS, env: { PATH: bin } });
    const half = EXPECTED.length / 2;
    const first = await setupErrors(node, METRICS);
    assert.ok(first.get("iptables_lock")! >= half, `iptables_lock ${first.get("iptables_lock")}`);
    assert.ok(first.get("iptables")! >= half, `iptables ${first.get("iptables")}`);
    assert.equal(first.get("interface_add"), 0);
    assert.equal(first.get("interface_check"), 0);
    // Retried and counted again on the next sync.
    await until("a retry", async () => (await setupErrors(node, METRICS)).get("iptables_lock")! >= 2 * half);
    const errors = logMessages(daemon, /^Error checking\/adding iptables rule/);
    assert.ok(
      errors.some((m) => /iptables -w 5 -t raw -C PREROUTING .*xtables lock/s.test(m)),
      errors[0],
    );
    assert.ok(
      errors.some((m) => /ip6tables -w 5 -t raw -C PREROUTING .*ENOENT/s.test(m)),
      errors.at(-1),
    );
    assert.deepEqual((await addrs(node, "nodelocaldns"))?.sort(), [...LOCAL].sort());
    assert.equal(await digIn(node, V4[0]!, "a.example.test"), "10.1.2.3");
    assert.deepEqual(await daemon.stop("SIGTERM", 15_000), { code: 0, signal: null }, daemon.output());
    assert.equal(await addrs(node, "nodelocaldns"), null);
  });

  test("an invalid -interfacename stops the daemon before it touches the node", async () => {
    const node = await scopedNetns("nldns-node");
    const dir = await tempDir("nldns-badflag-");
    await writeFile(join(dir, "Corefile"), COREFILE);
    const args = [daemonEntry(), "-conf", join(dir, "Corefile"), ...ARGS, "-interfacename", "bad/name"];
    const res = await node.exec(process.execPath, args);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /-interfacename: "bad\/name" is not a valid interface name/);
    assert.deepEqual(
      (JSON.parse(await node.run(IP, ["-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname),
      ["lo"],
    );
    assert.deepEqual(await ourRules(node), []);
  });
});
