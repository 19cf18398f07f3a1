// The real src/netif module inside fresh network namespaces: interface and rules as node-cache makes
// them, restored after removal, removed on SIGTERM, kept with teardown skipped; both iptables back
// ends where installed. A "pod" namespace queries the local IPs over a veth with dig.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { COMMENT_NO_CACHE, COMMENT_SKIP_CONNTRACK } from "../src/netif/index.ts";
import { connectPod, Netns, type NsProcess, startRunner } from "./fixtures/netif-runner.ts";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root";
const V4 = ["169.254.20.10", "10.96.0.10"];
const V6 = ["fd00::a", "fd00::b"];
const LOCAL = [...V4, ...V6].join(",");

const backends = (["legacy", "nft"] as const).filter((b) => existsSync(`/usr/sbin/iptables-${b}`));

/** Our rules in `iptables -S` form for one table of one family and back end. */
async function ours(ns: Netns, backend: string, family: 4 | 6, table: string): Promise<string[]> {
  const out = await ns.run(`${family === 6 ? "ip6tables" : "iptables"}-${backend}`, ["-t", table, "-S"]);
  return out.split("\n").filter((l) => l.includes("NodeLocal DNS Cache"));
}

async function allOurs(ns: Netns, backend: string): Promise<number> {
  let n = 0;
  for (const f of [4, 6] as const)
    for (const t of ["raw", "filter"]) n += (await ours(ns, backend, f, t)).length;
  return n;
}

async function addrs(ns: Netns, dev: string): Promise<string[] | null> {
  const res = await ns.exec("ip", ["-j", "addr", "show", "dev", dev]);
  if (res.code !== 0) return null;
  const parsed = JSON.parse(res.stdout) as { addr_info: { local: string; scope: string }[] }[];
  return parsed[0]!.addr_info.filter((a) => a.scope !== "link").map((a) => a.local);
}

async function until(
  what: string | (() => string),
  fn: () => Promise<boolean>,
  timeoutMs = 8000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates namespaces and runners that are always cleaned up, even when an assertion fails. */
function scope(t: { after(fn: () => Promise<void>): void }) {
  const nss: Netns[] = [];
  const procs: NsProcess[] = [];
  t.after(async () => {
    for (const p of procs) await p.stop("SIGKILL", 5000);
    for (const ns of nss) await ns.delete();
  });
  return {
    async ns() {
      const ns = await Netns.create();
      nss.push(ns);
      return ns;
    },
    async runner(ns: Netns, args: string[]) {
      const p = await startRunner(ns, args);
      procs.push(p);
      return p;
    },
  };
}

describe("netif in a network namespace", { skip, timeout: 120_000 }, () => {
  if (backends.length === 0)
    test("iptables back ends", { skip: "neither iptables-legacy nor iptables-nft installed" });

  for (const backend of backends) {
    test(`${backend}: setup, pod query, sync restores removals, SIGTERM removes everything`, async (t) => {
      const s = scope(t);
      const node = await s.ns();
      const p = await s.runner(node, [
        "--localip",
        LOCAL,
        "--serve",
        "--sync-ms",
        "200",
        "--backend",
        backend,
      ]);
      assert.equal(p.ready.backend, backend);
      assert.deepEqual(p.ready.rules, { present: 0, added: 60, failed: 0 });
      assert.deepEqual((await addrs(node, "nodelocaldns"))?.sort(), [...V4, ...V6].sort());
      // dummy where the kernel has it, the bridge fallback here
      assert.match(String((p.ready.status as { kind: string }).kind), /^(dummy|bridge)$/);

      const raw4 = await ours(node, backend, 4, "raw");
      const filter4 = await ours(node, backend, 4, "filter");
      assert.equal(raw4.length, 22);
      assert.equal(filter4.length, 8);
      assert.equal((await ours(node, backend, 6, "raw")).length, 22);
      assert.equal((await ours(node, backend, 6, "filter")).length, 8);
      const c = `-m comment --comment "${COMMENT_SKIP_CONNTRACK}"`;
      const alive4 = "-m recent --rcheck --seconds 1 --name nodelocaldns --mask 255.255.255.255 --rdest";
      assert.ok(
        raw4.includes(
          `-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 ${alive4} -m socket --nowildcard ${c} -j NOTRACK`,
        ),
      );
      assert.ok(raw4.includes(`-A OUTPUT -s 10.96.0.10/32 -p tcp -m tcp --sport 8080 ${c} -j NOTRACK`));
      assert.ok(
        filter4.includes(
          '-A INPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -m comment --comment "NodeLocal DNS Cache: allow DNS traffic" -j ACCEPT',
        ),
      );
      const raw6 = await ours(node, backend, 6, "raw");
      const alive6 = `-m recent --rcheck --seconds 1 --name nodelocaldns --mask ${"ffff:".repeat(7)}ffff --rdest`;
      assert.ok(
        raw6.includes(
          `-A PREROUTING -d fd00::b/128 -p udp -m udp --dport 53 ${alive6} -m socket --nowildcard ${c} -j NOTRACK`,
        ),
      );
      const other = backend === "nft" ? "legacy" : "nft";
      if (backends.includes(other)) assert.equal(await allOurs(node, other), 0, `nothing in ${other}`);

      // A pod on this node asks every local IP, through a veth, with dig.
      const pod = await s.ns();
      await connectPod(node, pod, { localIps: [...V4, ...V6] });
      for (const ip of [...V4, ...V6]) {
        const out = await pod.run("dig", [
          `@${ip}`,
          "-p",
          "53",
          "+short",
          "+time=2",
          "+tries=2",
          "example.com",
          "A",
        ]);
        assert.equal(out.trim(), "192.0.2.53", `answer via ${ip}`);
      }

      // Someone removes a rule (IPv4 and IPv6) and an address: the next sync puts them back.
      await node.run(`iptables-${backend}`, [
        "-t",
        "raw",
        "-D",
        "PREROUTING",
        "-p",
        "udp",
        "-d",
        "169.254.20.10",
        "--dport",
        "53",
        "-j",
        "ACCEPT",
        "-m",
        "comment",
        "--comment",
        COMMENT_NO_CACHE,
      ]);
      await node.run(`ip6tables-${backend}`, ["-t", "filter", "-F", "INPUT"]);
      await node.run("ip", ["addr", "del", "10.96.0.10/32", "dev", "nodelocaldns"]);
      // (the sync may already have run here: count the runner's "Added back" lines instead)
      let seen = "";
      await until(
        () => `rules and address restored (${seen})`,
        async () => {
          const a = await addrs(node, "nodelocaldns");
          // (a sync pass that checked the ACCEPT just before it went puts it back by its order repair)
          const readded =
            p.stderr().split("Added back nodelocaldns rule").length -
            1 +
            (p.stderr().split("Moved nodelocaldns rules").length - 1);
          seen = `re-added ${readded}, ours ${await allOurs(node, backend)}, addresses ${a}`;
          return (
            readded === 60 + 5 && (await allOurs(node, backend)) === 60 && a?.includes("10.96.0.10") === true
          );
        },
      );
      assert.match(p.stderr(), /Added back addresses 10\.96\.0\.10 to nodelocaldns/);
      assert.deepEqual(
        p.events.filter((e) => e.event === "error"),
        [],
      );

      // SIGTERM: rules, then the interface, all gone.
      assert.equal(await p.stop("SIGTERM"), 0);
      assert.deepEqual(
        p.events.find((e) => e.event === "stopped"),
        { event: "stopped", teardown: true },
      );
      assert.equal(await addrs(node, "nodelocaldns"), null);
      assert.equal(await allOurs(node, backend), 0);
    });
  }

  test("-skipteardown keeps interface and rules; a new run adopts them without duplicates", async (t) => {
    const s = scope(t);
    const backend = backends[0] ?? "nft";
    const node = await s.ns();
    const args = ["--localip", LOCAL, "--sync-ms", "200", "--backend", backend];
    const first = await s.runner(node, [...args, "--skip-teardown"]);
    assert.equal(await first.stop("SIGTERM"), 0);
    assert.deepEqual(
      first.events.find((e) => e.event === "stopped"),
      { event: "stopped", teardown: false },
    );
    assert.equal((await addrs(node, "nodelocaldns"))?.length, 4);
    assert.equal(await allOurs(node, backend), 60);

    const second = await s.runner(node, args);
    assert.deepEqual(second.ready.rules, { present: 60, added: 0, failed: 0 });
    assert.equal(await allOurs(node, backend), 60, "no duplicates");
    assert.equal(await second.stop("SIGTERM"), 0);
    assert.equal(await addrs(node, "nodelocaldns"), null);
    assert.equal(await allOurs(node, backend), 0);
  });

  test("no usable link type: addresses on lo, teardown removes only ours", async (t) => {
    const s = scope(t);
    const node = await s.ns();
    await node.run("ip", ["addr", "add", "10.96.0.10/32", "dev", "lo"]); // someone else's
    const p = await s.runner(node, [
      "--localip",
      LOCAL,
      "--link-types",
      "nosuchtype",
      "--no-iptables",
      "--serve",
    ]);
    assert.equal(p.ready.loopback, true);
    const onLo = await addrs(node, "lo");
    for (const ip of [...V4, ...V6]) assert.ok(onLo?.includes(ip), `${ip} on lo`);
    assert.equal(await node.exec("ip", ["link", "show", "dev", "nodelocaldns"]).then((r) => r.code), 1);
    assert.equal(await p.stop("SIGTERM"), 0);
    const after = await addrs(node, "lo");
    assert.deepEqual(after?.sort(), ["10.96.0.10", "127.0.0.1", "::1"].sort());
  });

  test("auto back end: kubelet's hint chain in legacy selects legacy", {
    skip: backends.length < 2 ? "needs both iptables-legacy and iptables-nft" : false,
  }, async (t) => {
    const s = scope(t);
    const node = await s.ns();
    await node.run("iptables-legacy", ["-t", "mangle", "-N", "KUBE-IPTABLES-HINT"]);
    const p = await s.runner(node, ["--localip", "169.254.20.10", "--no-interface", "--backend", "auto"]);
    assert.equal(p.ready.backend, "legacy");
    assert.equal((await ours(node, "legacy", 4, "raw")).length, 11);
    assert.equal((await ours(node, "nft", 4, "raw")).length, 0);
    assert.equal(await p.stop("SIGTERM"), 0);
    assert.equal((await ours(node, "legacy", 4, "raw")).length, 0);
  });
});
