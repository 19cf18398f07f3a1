// The same rules as a native nftables table of our own, for nodes where kube-proxy runs in nftables
// mode (no iptables rules at all, kubernetes/dns #682) or iptables is missing. One table, replaced
// atomically; its comment carries a digest of the wanted text so a sync re-applies only on change.
//  - NOTRACK while a socket of ours answers L:dns: `socket wildcard 0` for UDP, but `socket
//    transparent 0` for TCP (`wildcard` misses the handshake's request socket: the SYN would be
//    tracked and the connection reset), and an answer from L within ALIVE_SECONDS (set `alive`).
//  - Otherwise, for the link-local address: the destination rewritten to kube-dns-upstream before
//    conntrack (so kube-proxy's DNAT applies), the connection marked, and the reply's source set
//    back to L after NAT.

import { createHash } from "node:crypto";
import { unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecError } from "../errors/index.ts";
import { commandLine, type Exec } from "./exec.ts";
import { ALIVE_SECONDS, COMMENT_FALLBACK, COMMENT_SKIP_CONNTRACK, familyOf } from "./rules.ts";

export const NFT_TABLE = "nodelocaldns";
/** Packet and conntrack mark bit of connections rewritten to kube-dns-upstream. */
export const NFT_FALLBACK_MARK = 0x00100000;

export interface NftRulesInput {
  localIps: readonly string[];
  dnsPort: number;
  healthPort: number;
  readyPort?: number;
  /** The link-local address(es) to rewrite, with kube-dns-upstream's ClusterIP of the same family. */
  fallback: { ip: string; upstream: string }[];
}

const q = (s: string) => JSON.stringify(s);

/** The table's body (without the digest comment): sets and chains. */
export function nftTableBody(input: NftRulesInput): string {
  const dns = input.dnsPort;
  const mark = `0x${NFT_FALLBACK_MARK.toString(16).padStart(8, "0")}`;
  const pre: string[] = [];
  const out: string[] = [];
  const post: string[] = [];
  const extraPorts = [
    input.healthPort,
    ...(input.readyPort !== undefined && input.readyPort !== input.healthPort ? [input.readyPort] : []),
  ];
  for (const ip of input.localIps) {
    const f = familyOf(ip) === 6 ? "ip6" : "ip";
    const set = familyOf(ip) === 6 ? "alive6" : "alive4";
    const skip = `comment ${q(COMMENT_SKIP_CONNTRACK)}`;
    pre.push(`${f} daddr ${ip} udp dport ${dns} ${f} daddr @${set} socket wildcard 0 notrack accept ${skip}`);
    pre.push(
      `${f} daddr ${ip} tcp dport ${dns} ${f} daddr @${set} socket transparent 0 notrack accept ${skip}`,
    );
    out.push(`${f} saddr ${ip} udp sport ${dns} update @${set} { ${f} saddr }`);
    out.push(`${f} saddr ${ip} meta l4proto { tcp, udp } th sport ${dns} notrack ${skip}`);
    out.push(`${f} daddr ${ip} meta l4proto { tcp, udp } th dport ${dns} notrack ${skip}`);
    for (const port of extraPorts) {
      out.push(`${f} daddr ${ip} tcp dport ${port} notrack ${skip}`);
      out.push(`${f} saddr ${ip} tcp sport ${port} notrack ${skip}`);
    }
  }
  for (const { ip, upstream } of input.fallback) {
    const f = familyOf(ip) === 6 ? "ip6" : "ip";
    const c = `comment ${q(COMMENT_FALLBACK)}`;
    // Not from lo: our own heartbeat (and host-network clients) must reach the socket itself.
    pre.push(
      `iifname != "lo" ${f} daddr ${ip} meta l4proto { tcp, udp } th dport ${dns} meta mark set meta mark | ${mark} ${f} daddr set ${upstream} ${c}`,
    );
    post.push(
      `ct direction reply ct mark & ${mark} == ${mark} ${f} saddr ${upstream} meta l4proto { tcp, udp } th sport ${dns} ${f} saddr set ${ip} ${c}`,
    );
  }
  const timeout = `timeout ${ALIVE_SECONDS}s; flags dynamic, timeout;`;
  const lines = [
    `  set alive4 { type ipv4_addr; ${timeout} }`,
    `  set alive6 { type ipv6_addr; ${timeout} }`,
    "  chain prerouting {",
    "    type filter hook prerouting priority raw; policy accept;",
    ...pre.map((r) => `    ${r}`),
    "  }",
    "  chain output {",
    "    type filter hook output priority raw; policy accept;",
    ...out.map((r) => `    ${r}`),
    "  }",
  ];
  if (input.fallback.length > 0) {
    lines.push(
      "  chain fallback_mark {",
      "    type filter hook prerouting priority mangle; policy accept;",
      `    meta mark & ${mark} == ${mark} ct mark set ct mark | ${mark}`,
      "  }",
      "  chain fallback_reply {",
      "    type filter hook postrouting priority srcnat + 10; policy accept;",
      ...post.map((r) => `    ${r}`),
      "  }",
    );
  }
  return lines.join("\n");
}

export function nftDigest(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 16);
}

/** `nft -f -` input that replaces the table in one transaction. */
export function nftScript(body: string): string {
  const tag = `nodelocaldns ${nftDigest(body)}`;
  return [
    `table inet ${NFT_TABLE} {}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    `  comment ${q(tag)}`,
    body,
    "}",
    "",
  ].join("\n");
}

export class NftRunner {
  private readonly exec: Exec;
  private readonly nft: string;
  private readonly dir: string;

  constructor(exec: Exec, nft = "nft", scriptDir = tmpdir()) {
    this.exec = exec;
    this.nft = nft;
    this.dir = scriptDir;
  }

  /** Whether the table is there with this body's digest. */
  async current(body: string): Promise<boolean> {
    const res = await this.exec(this.nft, ["list", "table", "inet", NFT_TABLE]);
    return res.code === 0 && res.stdout.includes(`nodelocaldns ${nftDigest(body)}`);
  }

  /** Replaces the table atomically. */
  async apply(body: string): Promise<void> {
    // A file, not stdin: Exec runs programs without input.
    const file = join(this.dir, `nodelocaldns-${process.pid}.nft`);
    await writeFile(file, nftScript(body));
    try {
      const res = await this.exec(this.nft, ["-f", file]);
      if (res.code !== 0)
        throw new ExecError(commandLine(this.nft, ["-f", file]), res.code, res.stderr || res.stdout);
    } finally {
      await unlink(file).catch(() => {});
    }
  }

  async remove(): Promise<void> {
    const res = await this.exec(this.nft, ["delete", "table", "inet", NFT_TABLE]);
    if (res.code !== 0 && !/No such file or directory/.test(res.stderr))
      throw new ExecError(
        commandLine(this.nft, ["delete", "table", "inet", NFT_TABLE]),
        res.code,
        res.stderr,
      );
  }

  /** kube-proxy's nftables-mode tables (`ip kube-proxy`, `ip6 kube-proxy`) as text; "" when absent. */
  async kubeProxyTables(): Promise<string | null> {
    let text = "";
    let found = false;
    for (const family of ["ip", "ip6"]) {
      const res = await this.exec(this.nft, ["list", "table", family, "kube-proxy"]).catch(() => null);
      if (res?.code === 0) {
        found = true;
        text += res.stdout;
      }
    }
    return found ? text : null;
  }
}

/** Whether kube-proxy's nftables table has a service rule for `ip` (then it needs no fallback). */
export function nftServes(kubeProxy: string, ip: string): boolean {
  const esc = ip.replaceAll(".", "\\.");
  return new RegExp(`(^|[\\s{,])${esc}(?=[\\s.,}:])`, "m").test(kubeProxy);
}
