// The iptables rules node-cache installs per local IP (kubernetes/dns cmd/node-cache/app/cache_app.go),
// with the same comments, tables, chains and match order, so rules left by one binary are recognised
// (and removed) by the other. Commands are run as programs, holding the xtables lock with -w.

import { isIPv6 } from "node:net";
import { ExecError } from "../errors/index.ts";
import { commandLine, type Exec } from "./exec.ts";

export const COMMENT_SKIP_CONNTRACK = "NodeLocal DNS Cache: skip conntrack";
export const COMMENT_ALLOW_TRAFFIC = "NodeLocal DNS Cache: allow DNS traffic";

export type Family = 4 | 6;
export type Table = "raw" | "filter";
export type Chain = "PREROUTING" | "INPUT" | "OUTPUT";

export interface Rule {
  family: Family;
  table: Table;
  chain: Chain;
  /** Match and target, without table/chain/operation. */
  args: string[];
}

function rule(family: Family, table: Table, chain: Chain, args: string[], comment: string): Rule {
  return { family, table, chain, args: [...args, "-m", "comment", "--comment", comment] };
}

/**
 * Rules for every local IP, in node-cache's order: raw PREROUTING NOTRACK to L:dns, filter INPUT
 * ACCEPT to L:dns, raw OUTPUT NOTRACK from L:dns, filter OUTPUT ACCEPT from L:dns, raw OUTPUT
 * NOTRACK to L:dns (hostNetwork clients), raw OUTPUT NOTRACK tcp to/from L:health. node-cache's
 * newest release adds the same pair for the ready port; pass `readyPort` to get it too.
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
  for (const ip of localIps) {
    const f: Family = isIPv6(ip) ? 6 : 4;
    const skip = COMMENT_SKIP_CONNTRACK;
    const allow = COMMENT_ALLOW_TRAFFIC;
    for (const p of ["tcp", "udp"])
      out.push(rule(f, "raw", "PREROUTING", ["-p", p, "-d", ip, "--dport", dns, "-j", "NOTRACK"], skip));
    for (const p of ["tcp", "udp"])
      out.push(rule(f, "filter", "INPUT", ["-p", p, "-d", ip, "--dport", dns, "-j", "ACCEPT"], allow));
    for (const p of ["tcp", "udp"])
      out.push(rule(f, "raw", "OUTPUT", ["-p", p, "-s", ip, "--sport", dns, "-j", "NOTRACK"], skip));
    for (const p of ["tcp", "udp"])
      out.push(rule(f, "filter", "OUTPUT", ["-p", p, "-s", ip, "--sport", dns, "-j", "ACCEPT"], allow));
    for (const p of ["tcp", "udp"])
      out.push(rule(f, "raw", "OUTPUT", ["-p", p, "-d", ip, "--dport", dns, "-j", "NOTRACK"], skip));
    for (const port of extraPorts) {
      const hp = String(port);
      out.push(rule(f, "raw", "OUTPUT", ["-p", "tcp", "-d", ip, "--dport", hp, "-j", "NOTRACK"], skip));
      out.push(rule(f, "raw", "OUTPUT", ["-p", "tcp", "-s", ip, "--sport", hp, "-j", "NOTRACK"], skip));
    }
  }
  return out;
}

export function describeRule(r: Rule): string {
  return `{${r.table} ${r.chain} [${r.args.join(" ")}]} (IPv${r.family})`;
}

export type IptablesErrorType = "iptables" | "iptables_lock";

/** node-cache counts lock contention apart ("holding the xtables lock"; iptables exits 4 for it). */
export function classifyIptablesError(err: unknown): IptablesErrorType {
  const text = err instanceof ExecError ? err.stderr : err instanceof Error ? err.message : String(err);
  if (/xtables lock/i.test(text)) return "iptables_lock";
  if (err instanceof ExecError && err.exitCode === 4 && /lock|resource temporarily unavailable/i.test(text))
    return "iptables_lock";
  return "iptables";
}

export interface IptablesBinaries {
  iptables: string;
  ip6tables: string;
}

export interface IptablesRunnerOptions {
  exec: Exec;
  binaries: IptablesBinaries;
  /** Seconds to wait for the xtables lock (`-w N`); node-cache/kube-proxy use 5. */
  waitSeconds?: number;
  /** Bound on `-D` repetitions when others left duplicates of our rule. */
  maxDeletes?: number;
}

/** check / ensure / delete one rule, each a separate iptables invocation. */
export class IptablesRunner {
  readonly binaries: IptablesBinaries;
  private readonly exec: Exec;
  private readonly wait: string[];
  private readonly maxDeletes: number;

  constructor(opts: IptablesRunnerOptions) {
    this.exec = opts.exec;
    this.binaries = opts.binaries;
    this.wait = ["-w", String(opts.waitSeconds ?? 5)];
    this.maxDeletes = opts.maxDeletes ?? 64;
  }

  /** The full argument list for one operation, e.g. `-w 5 -t raw -C PREROUTING -p tcp ...`. */
  argv(op: "-C" | "-I" | "-D", r: Rule): { file: string; args: string[] } {
    const file = r.family === 6 ? this.binaries.ip6tables : this.binaries.iptables;
    const position = op === "-I" ? [r.chain, "1"] : [r.chain];
    return { file, args: [...this.wait, "-t", r.table, op, ...position, ...r.args] };
  }

  private async run(op: "-C" | "-I" | "-D", r: Rule): Promise<number> {
    const { file, args } = this.argv(op, r);
    const res = await this.exec(file, args);
    // Exit 1 means "no such rule" for -C and -D; everything else non-zero is a real failure.
    if (res.code === 0 || (res.code === 1 && op !== "-I")) return res.code;
    throw new ExecError(commandLine(file, args), res.code, res.stderr || res.stdout);
  }

  async check(r: Rule): Promise<boolean> {
    return (await this.run("-C", r)) === 0;
  }

  /** Inserts at position 1 only when `-C` says the rule is absent. Returns whether it existed. */
  async ensure(r: Rule): Promise<boolean> {
    if (await this.check(r)) return true;
    await this.run("-I", r);
    return false;
  }

  /** Deletes every copy of exactly this rule (full spec match). Returns how many were removed. */
  async delete(r: Rule): Promise<number> {
    let removed = 0;
    while (removed < this.maxDeletes && (await this.run("-D", r)) === 0) removed++;
    return removed;
  }
}

export type Backend = "auto" | "default" | "legacy" | "nft";

export interface BackendNames {
  default: IptablesBinaries;
  legacy: IptablesBinaries & { save: string; save6: string };
  nft: IptablesBinaries & { save: string; save6: string };
}

export const DEFAULT_BACKEND_NAMES: BackendNames = {
  default: { iptables: "iptables", ip6tables: "ip6tables" },
  legacy: {
    iptables: "iptables-legacy",
    ip6tables: "ip6tables-legacy",
    save: "iptables-legacy-save",
    save6: "ip6tables-legacy-save",
  },
  nft: {
    iptables: "iptables-nft",
    ip6tables: "ip6tables-nft",
    save: "iptables-nft-save",
    save6: "ip6tables-nft-save",
  },
};

const KUBELET_HINT = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /m;

async function saveOutput(exec: Exec, file: string, args: string[]): Promise<string | null> {
  try {
    const res = await exec(file, args);
    return res.code === 0 ? res.stdout : null;
  } catch {
    return null; // not installed
  }
}

/**
 * Picks the iptables back end the node uses, the way kube-proxy's images do (kubernetes-sigs/
 * iptables-wrappers): kubelet's hint chains in nft mangle, then in legacy, then whichever holds more
 * rules. Only when both variants exist; with no evidence either way, the node's default `iptables`.
 */
export async function detectBackend(
  exec: Exec,
  names: BackendNames = DEFAULT_BACKEND_NAMES,
): Promise<{ backend: Exclude<Backend, "auto">; binaries: IptablesBinaries }> {
  const pick = (backend: "legacy" | "nft") => ({
    backend,
    binaries: { iptables: names[backend].iptables, ip6tables: names[backend].ip6tables },
  });
  // Whole-table saves: "-t mangle" on legacy would create that table (the wrappers avoid it too).
  const nft4 = await saveOutput(exec, names.nft.save, []);
  const legacy4 = await saveOutput(exec, names.legacy.save, []);
  if (nft4 === null || legacy4 === null) return { backend: "default", binaries: { ...names.default } };
  const nft6 = (await saveOutput(exec, names.nft.save6, [])) ?? "";
  if (KUBELET_HINT.test(nft4) || KUBELET_HINT.test(nft6)) return pick("nft");
  const legacy6 = (await saveOutput(exec, names.legacy.save6, [])) ?? "";
  if (KUBELET_HINT.test(legacy4) || KUBELET_HINT.test(legacy6)) return pick("legacy");
  const count = (s: string) => (s.match(/^-/gm) ?? []).length;
  const legacyRules = count(legacy4) + count(legacy6);
  const nftRules = count(nft4) + count(nft6);
  if (legacyRules > nftRules) return pick("legacy");
  if (nftRules > legacyRules) return pick("nft");
  return { backend: "default", binaries: { ...names.default } };
}

export async function resolveBackend(
  exec: Exec,
  backend: Backend,
  names: BackendNames = DEFAULT_BACKEND_NAMES,
): Promise<{ backend: Exclude<Backend, "auto">; binaries: IptablesBinaries }> {
  if (backend === "auto") return detectBackend(exec, names);
  const n = names[backend];
  return { backend, binaries: { iptables: n.iptables, ip6tables: n.ip6tables } };
}
