// Where a local IP's queries go while the cache is down. The kube-dns ClusterIP needs nothing: a
// tracked packet gets kube-proxy's own DNAT. The link-local address has no kube-proxy rule, so it
// is sent to kube-dns-upstream (the -upstreamsvc Service) the way kube-proxy runs:
//  - iptables mode: a jump into kube-proxy's KUBE-SVC chain for that Service (a literal DNAT to the
//    ClusterIP would be the connection's only DNAT, and kube-proxy's would never run);
//  - IPVS mode: a plain DNAT to the ClusterIP (IPVS picks it up on the kube-ipvs0 address);
//  - nftables mode: a rewrite in our own nftables table (src/netif/nftables.ts).

import { canonicalIp } from "./interface.ts";
import type { IptablesRunner } from "./iptables.ts";
import { COMMENT_FALLBACK, familyOf, type Rule, splitRuleLine } from "./rules.ts";

export type ProxyMode = "iptables" | "ipvs" | "nftables" | "none";

export interface FallbackPlan {
  mode: ProxyMode;
  /** nat PREROUTING rules (iptables and IPVS modes). */
  rules: Rule[];
  /** Why some local IP has no fallback (logged once per change). */
  notes: string[];
}

/** Targets of kube-proxy's KUBE-SERVICES rules for `ip` and `dnsPort`, by protocol. */
export function serviceChains(lines: readonly string[], ip: string, dnsPort: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const a = splitRuleLine(line);
    const at = (flag: string) => {
      const i = a.indexOf(flag);
      return i >= 0 ? a[i + 1] : undefined;
    };
    const d = at("-d")?.replace(/\/(32|128)$/, "");
    const proto = at("-p");
    const target = at("-j");
    if (d === undefined || proto === undefined || target === undefined) continue;
    if (canonicalIp(d) !== canonicalIp(ip) || at("--dport") !== String(dnsPort)) continue;
    if (target.startsWith("KUBE-SVC-") && !out.has(proto)) out.set(proto, target);
  }
  return out;
}

function fallbackRule(ip: string, proto: string, dnsPort: number, target: string[]): Rule {
  return {
    family: familyOf(ip),
    table: "nat",
    chain: "PREROUTING",
    args: [
      "-p",
      proto,
      "-d",
      ip,
      "--dport",
      String(dnsPort),
      ...target,
      "-m",
      "comment",
      "--comment",
      COMMENT_FALLBACK,
    ],
  };
}

export interface FallbackInputs {
  runner: IptablesRunner;
  localIps: readonly string[];
  dnsPort: number;
  /** kube-dns-upstream's ClusterIP ($<UPSTREAMSVC>_SERVICE_HOST), null when unknown. */
  upstreamIp: string | null;
  /** Whether a link of this name exists (kube-ipvs0 marks IPVS mode). */
  linkAddresses(name: string): Promise<string[] | null>;
}

/**
 * The fallback rules for this node as kube-proxy has it now. A local IP that kube-proxy serves
 * itself (a KUBE-SERVICES rule, an address on kube-ipvs0) gets none.
 */
export async function planFallback(input: FallbackInputs): Promise<FallbackPlan> {
  const { runner, localIps, dnsPort, upstreamIp } = input;
  const notes: string[] = [];
  if (upstreamIp === null) {
    return { mode: "none", rules: [], notes: ["no kube-dns-upstream address (-upstreamsvc env unset)"] };
  }
  const family = familyOf(upstreamIp);
  const candidates = localIps.filter((ip) => familyOf(ip) === family);
  const ipvs = await input.linkAddresses("kube-ipvs0");
  if (ipvs !== null) {
    const served = new Set(ipvs.map(canonicalIp));
    const host = family === 6 ? `[${upstreamIp}]` : upstreamIp;
    const rules = candidates
      .filter((ip) => !served.has(canonicalIp(ip)))
      .flatMap((ip) =>
        ["tcp", "udp"].map((p) =>
          fallbackRule(ip, p, dnsPort, ["-j", "DNAT", "--to-destination", `${host}:${dnsPort}`]),
        ),
      );
    return { mode: "ipvs", rules, notes };
  }
  const services = await runner.list(family, "nat", "KUBE-SERVICES");
  const upstream = serviceChains(services, upstreamIp, dnsPort);
  if (upstream.size === 0) {
    notes.push(`no kube-proxy iptables rule for kube-dns-upstream ${upstreamIp}:${dnsPort}`);
    return { mode: services.length > 0 ? "iptables" : "none", rules: [], notes };
  }
  const rules: Rule[] = [];
  for (const ip of candidates) {
    if (serviceChains(services, ip, dnsPort).size > 0) continue; // a Service IP: kube-proxy has it
    for (const p of ["tcp", "udp"]) {
      const chain = upstream.get(p);
      if (chain === undefined) notes.push(`no kube-proxy ${p} chain for ${upstreamIp}:${dnsPort}`);
      else rules.push(fallbackRule(ip, p, dnsPort, ["-j", chain]));
    }
  }
  return { mode: "iptables", rules, notes };
}

/** Deletes every nat PREROUTING rule carrying our fallback comment except those in `keep`. */
export async function removeStaleFallbacks(
  runner: IptablesRunner,
  families: readonly (4 | 6)[],
  keep: readonly Rule[],
): Promise<number> {
  let removed = 0;
  for (const family of families) {
    const lines = await runner.list(family, "nat", "PREROUTING");
    for (const line of lines) {
      if (!line.includes(COMMENT_FALLBACK)) continue;
      const target = splitRuleLine(line);
      const j = target[target.indexOf("-j") + 1];
      const d = target[target.indexOf("-d") + 1]?.replace(/\/(32|128)$/, "");
      const wanted = keep.some(
        (r) =>
          r.family === family &&
          r.args[r.args.indexOf("-j") + 1] === j &&
          canonicalIp(r.args[r.args.indexOf("-d") + 1]!) === canonicalIp(d ?? "") &&
          line.includes(`-p ${r.args[1]} `) &&
          (j !== "DNAT" || line.includes(r.args[r.args.indexOf("--to-destination") + 1]!)),
      );
      if (wanted) continue;
      await runner.deleteListed(family, "nat", line);
      removed++;
    }
  }
  return removed;
}
