// Unit tests for the fail-open pieces of src/netif: rule order checks on `iptables -S` lines, the
// link-local fallback by kube-proxy mode, and the native nftables table.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planFallback, serviceChains } from "../src/netif/fallback.ts";
import { IptablesRunner } from "../src/netif/iptables.ts";
import { nftServes, nftTableBody } from "../src/netif/nftables.ts";
import { classifyListed, orderHolds, splitRuleLine } from "../src/netif/rules.ts";

const ok = (stdout: string) => ({ stdout, stderr: "", code: 0 });

const KUBE_SERVICES = [
  '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU',
  '-A KUBE-SERVICES -d 10.96.0.11/32 -p udp -m comment --comment "kube-system/kube-dns-upstream:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-FXR4M2CWOGAZGGYD',
  '-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "kube-system/kube-dns-upstream:dns-tcp cluster IP" -m tcp --dport 53 -j KUBE-SVC-BRK3P4PPQWCLKOAN',
  '-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "kube-system/kube-dns-upstream:metrics cluster IP" -m tcp --dport 9153 -j KUBE-SVC-OTHER',
];

describe("raw PREROUTING order", () => {
  const c = (s: string) => `-m comment --comment "NodeLocal DNS Cache: ${s}"`;
  const conditional = `-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -m recent --rcheck --seconds 1 --name nodelocaldns --mask 255.255.255.255 --rdest -m socket --nowildcard ${c("skip conntrack")} -j NOTRACK`;
  const accept = `-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 ${c("no live cache, leave to kube-proxy")} -j ACCEPT`;
  const unconditional = `-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 ${c("skip conntrack")} -j NOTRACK`;
  const listed = (lines: string[]) => lines.map((l) => classifyListed(l, 53)).filter((r) => r !== null);

  test("-S lines are split with quoted comments kept whole and classified", () => {
    assert.deepEqual(splitRuleLine('-A X -m comment --comment "a b" -j Y').slice(5), ["a b", "-j", "Y"]);
    assert.deepEqual(listed([conditional, accept, unconditional, "-A PREROUTING -j NOTRACK"]), [
      { ip: "169.254.20.10", proto: "udp", kind: "conditional" },
      { ip: "169.254.20.10", proto: "udp", kind: "accept" },
      { ip: "169.254.20.10", proto: "udp", kind: "unconditional" },
    ]);
  });

  test("holds only with the conditional NOTRACK first and its ACCEPT next", () => {
    assert.equal(orderHolds(listed([conditional, accept, unconditional]), "169.254.20.10", "udp"), true);
    assert.equal(orderHolds(listed([unconditional, conditional, accept]), "169.254.20.10", "udp"), false);
    assert.equal(orderHolds(listed([accept, conditional]), "169.254.20.10", "udp"), false);
    assert.equal(orderHolds(listed([conditional]), "169.254.20.10", "udp"), false);
    assert.equal(orderHolds(listed([conditional, accept]), "169.254.20.10", "tcp"), false);
  });
});

describe("link-local fallback", () => {
  test("kube-proxy's chains for an address and port, by protocol", () => {
    assert.deepEqual(
      serviceChains(KUBE_SERVICES, "10.96.0.11", 53),
      new Map([
        ["udp", "KUBE-SVC-FXR4M2CWOGAZGGYD"],
        ["tcp", "KUBE-SVC-BRK3P4PPQWCLKOAN"],
      ]),
    );
    assert.equal(serviceChains(KUBE_SERVICES, "10.96.0.12", 53).size, 0);
  });

  function runnerWith(services: string[]) {
    const calls: string[] = [];
    const runner = new IptablesRunner({
      exec: async (file, args) => {
        calls.push([file, ...args].join(" "));
        return ok(args.includes("KUBE-SERVICES") ? services.join("\n") : "");
      },
      binaries: { iptables: "iptables", ip6tables: "ip6tables" },
    });
    return { runner, calls };
  }

  test("iptables mode: a jump into kube-dns-upstream's chain for the link-local address only", async () => {
    const { runner } = runnerWith(KUBE_SERVICES);
    const plan = await planFallback({
      runner,
      localIps: ["169.254.20.10", "10.96.0.10", "fd00::a"],
      dnsPort: 53,
      upstreamIp: "10.96.0.11",
      linkAddresses: async () => null,
    });
    assert.equal(plan.mode, "iptables");
    const comment = ["-m", "comment", "--comment", "NodeLocal DNS Cache: fall back to kube-dns-upstream"];
    assert.deepEqual(plan.rules, [
      {
        family: 4,
        table: "nat",
        chain: "PREROUTING",
        args: [
          "-p",
          "tcp",
          "-d",
          "169.254.20.10",
          "--dport",
          "53",
          "-j",
          "KUBE-SVC-BRK3P4PPQWCLKOAN",
          ...comment,
        ],
      },
      {
        family: 4,
        table: "nat",
        chain: "PREROUTING",
        args: [
          "-p",
          "udp",
          "-d",
          "169.254.20.10",
          "--dport",
          "53",
          "-j",
          "KUBE-SVC-FXR4M2CWOGAZGGYD",
          ...comment,
        ],
      },
    ]);
  });

  test("IPVS mode: a plain DNAT, except for addresses on kube-ipvs0; no upstream: nothing", async () => {
    const { runner, calls } = runnerWith([]);
    const plan = await planFallback({
      runner,
      localIps: ["169.254.20.10", "10.96.0.10"],
      dnsPort: 53,
      upstreamIp: "10.96.0.11",
      linkAddresses: async (name) => (name === "kube-ipvs0" ? ["10.96.0.10", "10.96.0.11"] : null),
    });
    assert.equal(plan.mode, "ipvs");
    assert.deepEqual(
      plan.rules.map((r) => r.args.slice(0, 10).join(" ")),
      [
        "-p tcp -d 169.254.20.10 --dport 53 -j DNAT --to-destination 10.96.0.11:53",
        "-p udp -d 169.254.20.10 --dport 53 -j DNAT --to-destination 10.96.0.11:53",
      ],
    );
    assert.deepEqual(calls, [], "IPVS mode reads no iptables chain");
    const none = await planFallback({
      runner,
      localIps: ["169.254.20.10"],
      dnsPort: 53,
      upstreamIp: null,
      linkAddresses: async () => null,
    });
    assert.deepEqual([none.mode, none.rules], ["none", []]);
  });
});

describe("native nftables table", () => {
  test("socket wildcard 0 for UDP, socket transparent 0 for TCP, alive sets, rewrite for the fallback", () => {
    const body = nftTableBody({
      localIps: ["169.254.20.10", "10.96.0.10", "fd00::a"],
      dnsPort: 53,
      healthPort: 8080,
      fallback: [{ ip: "169.254.20.10", upstream: "10.96.0.11" }],
    });
    const has = (s: string) => assert.ok(body.includes(s), `${s}\nin\n${body}`);
    has("ip daddr 10.96.0.10 udp dport 53 ip daddr @alive4 socket wildcard 0 notrack accept");
    has("ip daddr 10.96.0.10 tcp dport 53 ip daddr @alive4 socket transparent 0 notrack accept");
    has("ip6 daddr fd00::a udp dport 53 ip6 daddr @alive6 socket wildcard 0 notrack accept");
    has("ip saddr 169.254.20.10 udp sport 53 update @alive4 { ip saddr }");
    has('iifname != "lo" ip daddr 169.254.20.10 meta l4proto { tcp, udp } th dport 53 meta mark set');
    has("ip daddr set 10.96.0.11");
    has("ct direction reply ct mark & 0x00100000 == 0x00100000 ip saddr 10.96.0.11");
    has("ip saddr set 169.254.20.10");
    assert.ok(!body.includes("ip daddr 10.96.0.10 meta l4proto { tcp, udp } th dport 53 meta mark"));
    const noFallback = nftTableBody({
      localIps: ["169.254.20.10"],
      dnsPort: 53,
      healthPort: 8080,
      fallback: [],
    });
    assert.ok(!noFallback.includes("fallback_reply"));
  });

  test("kube-proxy's nftables table serves an address when its service map names it", () => {
    const table =
      "elements = { 10.96.0.10 . tcp . 53 : goto service-x,\n 10.96.0.11 . udp . 53 : goto service-y }";
    assert.equal(nftServes(table, "10.96.0.10"), true);
    assert.equal(nftServes(table, "10.96.0.1"), false);
    assert.equal(nftServes(table, "169.254.20.10"), false);
  });
});
