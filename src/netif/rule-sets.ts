// Our rules on the node, by back end: iptables/ip6tables (nft or legacy variant) or a native
// nftables table. Each knows how to make the node match (ensure, run at start and every sync) and
// how to remove everything of ours, old forms included (teardown).

import { planFallback, removeStaleFallbacks } from "./fallback.ts";
import { canonicalIp, type LinkLog } from "./interface.ts";
import { classifyIptablesError, type IptablesErrorType, type IptablesRunner } from "./iptables.ts";
import { type NftRunner, nftServes, nftTableBody } from "./nftables.ts";
import {
  classifyListed,
  conditionalNotrack,
  describeRule,
  familyOf,
  noCacheAccept,
  obsoleteRulesFor,
  orderHolds,
  PROTOCOLS,
  type Rule,
  rulesFor,
} from "./rules.ts";

export interface RulesReport {
  present: number;
  added: number;
  failed: number;
}

export interface RuleSetContext {
  localIps: string[];
  dnsPort: number;
  healthPort: number;
  readyPort?: number;
  /** kube-dns-upstream's ClusterIP, for the link-local fallback; null: no fallback. */
  upstreamIp: string | null;
  log: LinkLog;
  /** Counts one failure in coredns_nodecache_setup_errors_total. */
  report(type: IptablesErrorType, err: unknown): void;
  /** Global addresses of a link, null when there is no such link. */
  linkAddresses(name: string): Promise<string[] | null>;
}

export interface RuleSet {
  readonly name: string;
  ensure(): Promise<RulesReport>;
  teardown(): Promise<void>;
}

export class IptablesRuleSet implements RuleSet {
  readonly name: string;
  readonly rules: readonly Rule[];
  private readonly runner: IptablesRunner;
  private readonly ctx: RuleSetContext;
  private lastNotes = "";

  constructor(name: string, runner: IptablesRunner, ctx: RuleSetContext) {
    this.name = name;
    this.runner = runner;
    this.ctx = ctx;
    this.rules = rulesFor(ctx.localIps, ctx.dnsPort, ctx.healthPort, ctx.readyPort);
  }

  private fail(what: string, err: unknown): void {
    this.ctx.log.error(`Error ${what}, error - ${(err as Error).message}`);
    this.ctx.report(classifyIptablesError(err), err);
  }

  async ensure(): Promise<RulesReport> {
    const report: RulesReport = { present: 0, added: 0, failed: 0 };
    for (const rule of this.rules) {
      try {
        if (await this.runner.ensure(rule)) {
          report.present++;
          this.ctx.log.debug(`iptables rule ${describeRule(rule)} for nodelocaldns already exists`);
        } else {
          report.added++;
          this.ctx.log.info(`Added back nodelocaldns rule - ${describeRule(rule)}`);
        }
      } catch (err) {
        report.failed++;
        this.fail(`checking/adding iptables rule ${describeRule(rule)}`, err);
      }
    }
    await this.ensureOrder();
    await this.ensureFallback();
    return report;
  }

  /**
   * The conditional NOTRACK, then its ACCEPT, above anything else of node-cache's for the same
   * match: an old node-cache pod re-inserts its unconditional NOTRACK at the top on every sync.
   */
  private async ensureOrder(): Promise<void> {
    for (const family of [4, 6] as const) {
      const ips = this.ctx.localIps.filter((ip) => familyOf(ip) === family);
      if (ips.length === 0) continue;
      try {
        const listed = (await this.runner.list(family, "raw", "PREROUTING"))
          .map((l) => classifyListed(l, this.ctx.dnsPort))
          .filter((r) => r !== null)
          .map((r) => ({ ...r, ip: canonicalIp(r.ip) }));
        for (const ip of ips)
          for (const proto of PROTOCOLS) {
            const c = canonicalIp(ip);
            // No conditional NOTRACK at all: the ensure pass already reported why; nothing to order.
            if (!listed.some((r) => r.ip === c && r.proto === proto && r.kind === "conditional")) continue;
            if (orderHolds(listed, c, proto)) continue;
            const accept = noCacheAccept(ip, proto, this.ctx.dnsPort);
            const notrack = conditionalNotrack(ip, proto, this.ctx.dnsPort);
            await this.runner.delete(accept);
            await this.runner.delete(notrack);
            await this.runner.ensure(accept);
            await this.runner.ensure(notrack);
            this.ctx.log.info(
              `Moved nodelocaldns rules for ${ip} ${proto} back to the top of raw PREROUTING`,
            );
          }
      } catch (err) {
        this.fail(`ordering raw PREROUTING (IPv${family})`, err);
      }
    }
  }

  private async ensureFallback(): Promise<void> {
    try {
      const plan = await planFallback({ runner: this.runner, ...this.ctx });
      const notes = `${plan.mode}: ${plan.notes.join("; ")}`;
      if (notes !== this.lastNotes) {
        this.lastNotes = notes;
        const what = plan.rules.length > 0 ? `${plan.rules.length} rules` : "none";
        this.ctx.log.info(
          `kube-proxy mode ${plan.mode}; link-local fallback: ${what} ${plan.notes.join("; ")}`,
        );
      }
      await removeStaleFallbacks(this.runner, this.families(), plan.rules);
      for (const rule of plan.rules) {
        if (!(await this.runner.ensure(rule)))
          this.ctx.log.info(`Added fallback rule - ${describeRule(rule)}`);
      }
    } catch (err) {
      this.fail("setting up the link-local fallback", err);
    }
  }

  private families(): (4 | 6)[] {
    return [...new Set(this.ctx.localIps.map(familyOf))];
  }

  /** Whether raw PREROUTING holds a NOTRACK or ACCEPT of ours or node-cache's for our local IPs. */
  async present(): Promise<boolean> {
    const ips = new Set(this.ctx.localIps.map(canonicalIp));
    for (const family of this.families()) {
      for (const line of await this.runner.list(family, "raw", "PREROUTING")) {
        const r = classifyListed(line, this.ctx.dnsPort);
        if (r !== null && r.kind !== "other" && ips.has(canonicalIp(r.ip))) return true;
      }
    }
    return false;
  }

  async teardown(): Promise<void> {
    const all = [...this.rules, ...obsoleteRulesFor(this.ctx.localIps, this.ctx.dnsPort)];
    for (const rule of all) {
      try {
        await this.runner.delete(rule);
      } catch (err) {
        this.fail(`deleting iptables rule ${describeRule(rule)}`, err);
      }
    }
    try {
      await removeStaleFallbacks(this.runner, this.families(), []);
    } catch (err) {
      this.fail("removing the link-local fallback", err);
    }
  }
}

export class NftRuleSet implements RuleSet {
  readonly name = "nftables";
  private readonly nft: NftRunner;
  private readonly ctx: RuleSetContext;
  private readonly iptablesLeftovers: IptablesRuleSet | null;

  /**
   * `iptablesLeftovers`: the iptables form of the rules, to remove what node-cache or an earlier
   * release of ours left: an iptables NOTRACK would untrack the packets whatever our table says.
   */
  constructor(nft: NftRunner, ctx: RuleSetContext, iptablesLeftovers: IptablesRuleSet | null = null) {
    this.nft = nft;
    this.ctx = ctx;
    this.iptablesLeftovers = iptablesLeftovers;
  }

  async ensure(): Promise<RulesReport> {
    await this.removeIptablesLeftovers();
    try {
      const kubeProxy = (await this.nft.kubeProxyTables()) ?? "";
      const upstream = this.ctx.upstreamIp;
      const fallback =
        upstream === null
          ? []
          : this.ctx.localIps
              .filter((ip) => familyOf(ip) === familyOf(upstream) && !nftServes(kubeProxy, ip))
              .map((ip) => ({ ip, upstream }));
      const body = nftTableBody({ ...this.ctx, fallback });
      if (await this.nft.current(body)) return { present: 1, added: 0, failed: 0 };
      await this.nft.apply(body);
      const to = fallback.map((f) => `${f.ip} -> ${f.upstream}`).join(", ") || "none";
      this.ctx.log.info(`Added back nodelocaldns nftables table inet nodelocaldns (fallback: ${to})`);
      return { present: 0, added: 1, failed: 0 };
    } catch (err) {
      this.ctx.log.error(
        `Error setting up nftables table inet nodelocaldns, error - ${(err as Error).message}`,
      );
      this.ctx.report("iptables", err);
      return { present: 0, added: 0, failed: 1 };
    }
  }

  /** Every sync: an old node-cache pod may put its unconditional NOTRACK back. */
  private async removeIptablesLeftovers(): Promise<void> {
    const leftovers = this.iptablesLeftovers;
    try {
      if (leftovers === null || !(await leftovers.present())) return;
      this.ctx.log.info(
        "Removing iptables DNS rules left by node-cache or an earlier nodelocaldns (their NOTRACK would bypass the fail-open)",
      );
      await leftovers.teardown();
    } catch (err) {
      this.ctx.log.error(`Error removing leftover iptables rules - ${(err as Error).message}`);
      this.ctx.report("iptables", err);
    }
  }

  async teardown(): Promise<void> {
    try {
      await this.nft.remove();
    } catch (err) {
      this.ctx.log.error(`Failed deleting nftables table inet nodelocaldns - ${(err as Error).message}`);
      this.ctx.report("iptables", err);
    }
  }
}
