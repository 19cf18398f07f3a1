// Node networking lifecycle, as node-cache runs it: interface before the listeners, iptables rules
// after them, both re-checked every sync interval (restoring what someone removed), and on SIGTERM
// removed again, rules first, then the interface.

import { isIP } from "node:net";
import { FlagError } from "../errors/index.ts";
import type { Exec } from "./exec.ts";
import { InterfaceError, type LinkLog, LinkManager } from "./interface.ts";
import {
  type Backend,
  type BackendNames,
  DEFAULT_BACKEND_NAMES,
  IptablesRunner,
  resolveBackend,
} from "./iptables.ts";
import { NftRunner } from "./nftables.ts";
import {
  IptablesRuleSet,
  NftRuleSet,
  type RuleSet,
  type RuleSetContext,
  type RulesReport,
} from "./rule-sets.ts";

export type SetupErrorType = "iptables" | "iptables_lock" | "interface_add" | "interface_check";

export interface NodeNetworkOptions {
  interfaceName: string;
  localIps: string[];
  dnsPort: number;
  healthPort: number;
  /** Also exempt the readiness port from conntrack (newest node-cache does). */
  readyPort?: number;
  setupInterface: boolean;
  setupIptables: boolean;
  syncIntervalMs: number;
  exec: Exec;
  log: LinkLog;
  /** Called once per failure; main counts it in coredns_nodecache_setup_errors_total{errortype}. */
  onError(errortype: SetupErrorType, err: Error): void;
  /**
   * Rules back end: detect (default: native nftables when kube-proxy runs in nftables mode, else
   * the iptables variant the node uses), the node's `iptables`, legacy, nft, or native nftables.
   */
  backend?: Backend | "nftables";
  /** kube-dns-upstream's ClusterIP: where the link-local address goes while the cache is down. */
  upstreamIp?: string | null;
  /** `nft` program. */
  nft?: string;
  backendNames?: BackendNames;
  /** `ip` program. */
  ip?: string;
  /** Link types tried in order when creating the interface (default dummy, then bridge). */
  linkTypes?: string[];
  /** xtables lock wait, seconds (default 5). */
  waitSeconds?: number;
}

export type { RulesReport };

export class NodeNetwork {
  readonly link: LinkManager;
  private readonly opts: NodeNetworkOptions;
  private ruleSet: RuleSet | null = null;
  private backendName: string | null = null;
  private rulesActive = false;
  private timer: NodeJS.Timeout | null = null;
  private tornDown = false;
  /** Every operation runs after the previous one: a sync never interleaves with teardown. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: NodeNetworkOptions) {
    if (opts.localIps.length === 0) throw new FlagError("-localip: at least one local IP is required");
    for (const ip of opts.localIps) {
      if (isIP(ip) === 0) throw new FlagError(`-localip: "${ip}" is not an IPv4 or IPv6 address`);
    }
    if (!/^[^\s/]{1,15}$/.test(opts.interfaceName)) {
      throw new FlagError(
        `-interfacename: "${opts.interfaceName}" is not a valid interface name (1-15 characters)`,
      );
    }
    this.opts = opts;
    this.link = new LinkManager({
      name: opts.interfaceName,
      localIps: opts.localIps,
      exec: opts.exec,
      log: opts.log,
      ...(opts.ip !== undefined ? { ip: opts.ip } : {}),
      ...(opts.linkTypes !== undefined ? { linkTypes: opts.linkTypes } : {}),
    });
  }

  /** The rules back end in use ("default", "legacy", "nft", "nftables"), once known. */
  get backend(): string | null {
    return this.backendName;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private report(type: SetupErrorType, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      this.opts.onError(type, e);
    } catch {
      // a broken metrics callback must not break networking
    }
  }

  /** Before the listeners: create/adopt the interface. Counts and rethrows a failure. */
  setupInterface(): Promise<void> {
    return this.serial(async () => {
      if (!this.opts.setupInterface || this.tornDown) return;
      await this.ensureInterface(true);
    });
  }

  private async ensureInterface(rethrow: boolean): Promise<void> {
    try {
      const { created, added } = await this.link.ensure();
      const where = this.link.usingLoopback ? "lo" : this.opts.interfaceName;
      if (created) this.opts.log.info(`Added interface - ${where}`);
      else if (added.length > 0) this.opts.log.info(`Added back addresses ${added.join(", ")} to ${where}`);
    } catch (err) {
      const type = err instanceof InterfaceError ? err.errortype : "interface_check";
      this.opts.log.error(
        `Error setting up interface ${this.opts.interfaceName} - ${(err as Error).message}`,
      );
      this.report(type, err);
      if (rethrow) throw err;
    }
  }

  private async getRuleSet(): Promise<RuleSet> {
    if (this.ruleSet !== null) return this.ruleSet;
    const o = this.opts;
    const ctx: RuleSetContext = {
      localIps: o.localIps,
      dnsPort: o.dnsPort,
      healthPort: o.healthPort,
      ...(o.readyPort !== undefined ? { readyPort: o.readyPort } : {}),
      upstreamIp: o.upstreamIp ?? null,
      log: o.log,
      report: (type, err) => this.report(type, err),
      linkAddresses: (name) => this.link.addressesOf(name),
    };
    const wanted = o.backend ?? "auto";
    const nft = new NftRunner(o.exec, o.nft ?? "nft");
    const iptables = async (backendWanted: Backend) => {
      const names = o.backendNames ?? DEFAULT_BACKEND_NAMES;
      const { backend, binaries } = await resolveBackend(o.exec, backendWanted, names);
      const runner = new IptablesRunner({
        exec: o.exec,
        binaries,
        ...(o.waitSeconds !== undefined ? { waitSeconds: o.waitSeconds } : {}),
      });
      return { ruleSet: new IptablesRuleSet(backend, runner, ctx), binaries };
    };
    if (wanted === "nftables" || (wanted === "auto" && (await nft.kubeProxyTables()) !== null)) {
      // The iptables form too: what node-cache or an earlier release left there must go.
      this.ruleSet = new NftRuleSet(nft, ctx, (await iptables("auto")).ruleSet);
      o.log.info("Using native nftables (table inet nodelocaldns)");
    } else {
      const { ruleSet, binaries } = await iptables(wanted);
      this.ruleSet = ruleSet;
      o.log.info(`Using iptables back end ${ruleSet.name} (${binaries.iptables}, ${binaries.ip6tables})`);
    }
    this.backendName = this.ruleSet.name;
    return this.ruleSet;
  }

  /** After the listeners are up: add every missing rule. Failures are counted and retried on sync. */
  setupRules(): Promise<RulesReport> {
    return this.serial(async () => {
      if (!this.opts.setupIptables || this.tornDown) return { present: 0, added: 0, failed: 0 };
      this.rulesActive = true;
      return this.ensureRules();
    });
  }

  private async ensureRules(): Promise<RulesReport> {
    return (await this.getRuleSet()).ensure();
  }

  /** One reconcile pass: interface, then rules (if setupRules has run). Never throws. */
  syncOnce(): Promise<void> {
    return this.serial(async () => {
      if (this.tornDown) return;
      if (this.opts.setupInterface) await this.ensureInterface(false);
      if (this.opts.setupIptables && this.rulesActive) await this.ensureRules();
    });
  }

  startSync(): void {
    if (this.timer !== null || this.tornDown) return;
    let busy = false; // a slow pass (xtables lock) must not queue up behind itself
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.syncOnce().finally(() => {
        busy = false;
      });
    }, this.opts.syncIntervalMs);
    this.timer.unref();
  }

  /** Stops the periodic sync, leaving interface and rules in place (-skipteardown). */
  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Removes every copy of our rules, then the interface. Failures are counted and logged. */
  teardown(): Promise<void> {
    this.stop();
    return this.serial(async () => {
      if (this.tornDown) return;
      this.tornDown = true;
      this.opts.log.info("Tearing down");
      if (this.opts.setupIptables) {
        try {
          await (await this.getRuleSet()).teardown();
        } catch (err) {
          this.report("iptables", err);
        }
      }
      if (this.opts.setupInterface) {
        try {
          await this.link.teardown();
        } catch (err) {
          this.opts.log.error(
            `Failed removing interface ${this.opts.interfaceName} - ${(err as Error).message}`,
          );
          this.report(err instanceof InterfaceError ? err.errortype : "interface_check", err);
        }
      }
    });
  }
}
