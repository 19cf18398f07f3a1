// Running iptables/ip6tables for our rules (src/netif/rules.ts) as programs, holding the xtables
// lock with -w, and picking the back end (nft or legacy) the node uses.

import { ExecError } from "../errors/index.ts";
import { commandLine, type Exec } from "./exec.ts";
import { type Family, type Rule, splitRuleLine, type Table } from "./rules.ts";

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

  /** `-S CHAIN` of one table: the rule lines (`-A ...`); an absent chain gives none. */
  async list(family: Family, table: Table, chain: string): Promise<string[]> {
    const file = family === 6 ? this.binaries.ip6tables : this.binaries.iptables;
    const args = [...this.wait, "-t", table, "-S", chain];
    const res = await this.exec(file, args);
    if (res.code === 1) return [];
    if (res.code !== 0) throw new ExecError(commandLine(file, args), res.code, res.stderr || res.stdout);
    return res.stdout.split("\n").filter((l) => l.startsWith("-A "));
  }

  /** Deletes the rule an `-S` line shows (`-A CHAIN ...`). */
  async deleteListed(family: Family, table: Table, line: string): Promise<void> {
    const file = family === 6 ? this.binaries.ip6tables : this.binaries.iptables;
    const args = [...this.wait, "-t", table, "-D", ...splitRuleLine(line).slice(1)];
    const res = await this.exec(file, args);
    if (res.code !== 0 && res.code !== 1)
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
