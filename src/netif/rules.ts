// The iptables rules per local IP. node-cache's (kubernetes/dns cmd/node-cache/app/cache_app.go) keep
// their comments, tables, chains and match order, except raw PREROUTING: node-cache's NOTRACK there is
// unconditional, so a dead cache black-holes the kube-dns address. Ours NOTRACKs only while a
// socket of ours is bound to L:dns and that socket answered within the last ALIVE_SECONDS; otherwise
// the packet is tracked and kube-proxy's DNAT sends it to kube-dns. An ACCEPT for the same match
// follows, so node-cache's unconditional NOTRACK (an upgrade, or its old pod re-adding it) below
// ours is never reached.

import { isIPv6 } from "node:net";

export const COMMENT_SKIP_CONNTRACK = "NodeLocal DNS Cache: skip conntrack";
export const COMMENT_ALLOW_TRAFFIC = "NodeLocal DNS Cache: allow DNS traffic";
/** raw PREROUTING ACCEPT below our conditional NOTRACK: no live cache, leave the packet to kube-proxy. */
export const COMMENT_NO_CACHE = "NodeLocal DNS Cache: no live cache, leave to kube-proxy";
/** raw OUTPUT: every answer from L:dns marks L alive (xt_recent list ALIVE_LIST). */
export const COMMENT_ALIVE = "NodeLocal DNS Cache: cache answered";
/** nat PREROUTING: the link-local address to kube-dns-upstream while the cache is down. */
export const COMMENT_FALLBACK = "NodeLocal DNS Cache: fall back to kube-dns-upstream";

/** The xt_recent list (and nft set) naming local IPs whose cache answered recently. */
export const ALIVE_LIST = "nodelocaldns";
/** A cache silent this long (dead, or stopped with its sockets) loses its traffic to kube-dns. */
export const ALIVE_SECONDS = 1;

export type Family = 4 | 6;
export type Table = "raw" | "filter" | "nat";
export type Chain = "PREROUTING" | "INPUT" | "OUTPUT";

export interface Rule {
  family: Family;
  table: Table;
  chain: Chain;
  /** Match and target, without table/chain/operation. */
  args: string[];
}

export const PROTOCOLS = ["tcp", "udp"] as const;

export function familyOf(ip: string): Family {
  return isIPv6(ip) ? 6 : 4;
}

function rule(family: Family, table: Table, chain: Chain, args: string[], comment: string): Rule {
  return { family, table, chain, args: [...args, "-m", "comment", "--comment", comment] };
}

/** The conditional NOTRACK: a recent answer from L, and a socket bound to L itself (not a wildcard). */
export function conditionalNotrack(ip: string, proto: string, dnsPort: number): Rule {
  const match = ["-p", proto, "-d", ip, "--dport", String(dnsPort)];
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
  return rule(
    familyOf(ip),
    "raw",
    "PREROUTING",
    [...match, ...alive, "-m", "socket", "--nowildcard", "-j", "NOTRACK"],
    COMMENT_SKIP_CONNTRACK,
  );
}

export function noCacheAccept(ip: string, proto: string, dnsPort: number): Rule {
  const match = ["-p", proto, "-d", ip, "--dport", String(dnsPort)];
  return rule(familyOf(ip), "raw", "PREROUTING", [...match, "-j", "ACCEPT"], COMMENT_NO_CACHE);
}

/** node-cache's unconditional NOTRACK (and our releases before the conditional one): removed on teardown. */
export function unconditionalNotrack(ip: string, proto: string, dnsPort: number): Rule {
  const match = ["-p", proto, "-d", ip, "--dport", String(dnsPort)];
  return rule(familyOf(ip), "raw", "PREROUTING", [...match, "-j", "NOTRACK"], COMMENT_SKIP_CONNTRACK);
}

/**
 * Rules for every local IP. Each is inserted at position 1 when missing, so the list is in reverse
 * of the wanted order where order matters: raw PREROUTING lists the ACCEPT before the NOTRACK.
 * Then node-cache's: filter INPUT ACCEPT to L:dns, raw OUTPUT NOTRACK from L:dns, filter OUTPUT
 * ACCEPT from L:dns, raw OUTPUT NOTRACK to L:dns (hostNetwork clients: no socket test there), raw
 * OUTPUT NOTRACK tcp to/from L:health (and L:ready when given); and ours marking answers alive.
 */
export function rulesFor(
  localIps: string[],
  dnsPort: number,
  healthPort: number,
  readyPort?: number,
): Rule[] {
  const out: Rule[] = [];
  const dns = String(dnsPort);
  const extraPorts = [
    healthPort,
    ...(readyPort !== undefined && readyPort !== healthPort ? [readyPort] : []),
  ];
  const skip = COMMENT_SKIP_CONNTRACK;
  const allow = COMMENT_ALLOW_TRAFFIC;
  for (const ip of localIps) {
    const f = familyOf(ip);
    for (const p of PROTOCOLS) out.push(noCacheAccept(ip, p, dnsPort), conditionalNotrack(ip, p, dnsPort));
    for (const p of PROTOCOLS)
      out.push(rule(f, "filter", "INPUT", ["-p", p, "-d", ip, "--dport", dns, "-j", "ACCEPT"], allow));
    for (const p of PROTOCOLS)
      out.push(rule(f, "raw", "OUTPUT", ["-p", p, "-s", ip, "--sport", dns, "-j", "NOTRACK"], skip));
    for (const p of PROTOCOLS)
      out.push(rule(f, "filter", "OUTPUT", ["-p", p, "-s", ip, "--sport", dns, "-j", "ACCEPT"], allow));
    for (const p of PROTOCOLS)
      out.push(rule(f, "raw", "OUTPUT", ["-p", p, "-d", ip, "--dport", dns, "-j", "NOTRACK"], skip));
    for (const port of extraPorts) {
      const hp = String(port);
      out.push(rule(f, "raw", "OUTPUT", ["-p", "tcp", "-d", ip, "--dport", hp, "-j", "NOTRACK"], skip));
      out.push(rule(f, "raw", "OUTPUT", ["-p", "tcp", "-s", ip, "--sport", hp, "-j", "NOTRACK"], skip));
    }
    const alive = ["-m", "recent", "--set", "--name", ALIVE_LIST, "--rsource"];
    out.push(rule(f, "raw", "OUTPUT", ["-p", "udp", "-s", ip, "--sport", dns, ...alive], COMMENT_ALIVE));
  }
  return out;
}

/** Forms earlier releases (and node-cache) installed that the current set no longer has. */
export function obsoleteRulesFor(localIps: string[], dnsPort: number): Rule[] {
  return localIps.flatMap((ip) => PROTOCOLS.map((p) => unconditionalNotrack(ip, p, dnsPort)));
}

export function describeRule(r: Rule): string {
  return `{${r.table} ${r.chain} [${r.args.join(" ")}]} (IPv${r.family})`;
}

/** One raw PREROUTING rule of ours as `iptables -S` prints it (or as we pass it): what it is. */
export interface ListedRule {
  ip: string;
  proto: string;
  kind: "conditional" | "unconditional" | "accept" | "other";
}

/** Splits an `iptables -S` line into arguments (double-quoted strings kept whole). */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

export function classifyListed(line: string, dnsPort: number): ListedRule | null {
  const a = splitRuleLine(line);
  const at = (flag: string) => {
    const i = a.indexOf(flag);
    return i >= 0 ? a[i + 1] : undefined;
  };
  if (!line.includes("NodeLocal DNS Cache")) return null;
  const ip = at("-d")?.replace(/\/(32|128)$/, "");
  const proto = at("-p");
  if (ip === undefined || proto === undefined || at("--dport") !== String(dnsPort)) return null;
  const target = at("-j");
  const kind =
    target === "ACCEPT"
      ? "accept"
      : target !== "NOTRACK"
        ? "other"
        : a.includes("socket")
          ? "conditional"
          : "unconditional";
  return { ip, proto, kind };
}

/**
 * True when, for this IP and protocol, the conditional NOTRACK comes first, then our ACCEPT, and
 * nothing of ours or node-cache's for the same match comes before them.
 */
export function orderHolds(listed: readonly ListedRule[], ip: string, proto: string): boolean {
  const mine = listed.filter((r) => r.ip === ip && r.proto === proto);
  return mine[0]?.kind === "conditional" && mine[1]?.kind === "accept";
}
