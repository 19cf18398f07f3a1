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
  classifyIptablesError,
  DEFAULT_BACKEND_NAMES,
  describeRule,
  IptablesRunner,
  type Rule,
  resolveBackend,
  rulesFor,
} from "./iptables.ts";

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
  /** iptables back end: detect (default), the node's `iptables`, or force legacy / nft. */
  backend?: Backend;
  backendNames?: BackendNames;
  /** `ip` program. */
  ip?: string;
  /** Link types tried in order when creating the interface (default dummy, then bridge). */
  linkTypes?: string[];
  /** xtables lock wait, seconds (default 5). */
  waitSeconds?: number;
}

export interface RulesReport {
  present: number;
  added: number;
  failed: number;
}

export class NodeNetwork {
  readonly rules: readonly Rule[];
  readonly link: LinkManager;
  private readonly opts: NodeNetworkOptions;
  private runner: IptablesRunner | null = null;
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
    this.rules = rulesFor(opts.localIps, opts.dnsPort, opts.healthPort, opts.readyPort);
    this.link = new LinkManager({
      name: opts.interfaceName,
      localIps: opts.localIps,
      exec: opts.exec,
      log: opts.log,
      ...(opts.ip !== undefined ? { ip: opts.ip } : {}),
      ...(opts.linkTypes !== undefined ? { linkTypes: opts.linkTypes } : {}),
    });
  }

  /** The iptables back end in use ("default", "legacy", "nft"), once known. */
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

  private async getRunner(): Promise<IptablesRunner> {
    if (this.runner === null) {
      const names = this.opts.backendNames ?? DEFAULT_BACKEND_NAMES;
      const { backend, binaries } = await resolveBackend(this.opts.exec, this.opts.backend ?? "auto", names);
      this.backendName = backend;
      this.opts.log.info(`Using iptables back end ${backend} (${binaries.iptables}, ${binaries.ip6tables})`);
      this.runner = new IptablesRunner({
        exec: this.opts.exec,
        binaries,
        ...(this.opts.waitSeconds !== undefined ? { waitSeconds: this.opts.waitSeconds } : {}),
      });
    }
    return this.runner;
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
    const report: RulesReport = { present: 0, added: 0, failed: 0 };
    const runner = await this.getRunner();
    for (const rule of this.rules) {
      try {
        if (await runner.ensure(rule)) {
          report.present++;
          this.opts.log.debug(`iptables rule ${describeRule(rule)} for nodelocaldns already exists`);
        } else {
          report.added++;
          this.opts.log.info(`Added back nodelocaldns rule - ${describeRule(rule)}`);
        }
      } catch (err) {
        report.failed++;
        this.opts.log.error(
          `Error checking/adding iptables rule ${describeRule(rule)}, error - ${(err as Error).message}`,
        );
        this.report(classifyIptablesError(err), err);
      }
    }
    return report;
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
        let runner: IptablesRunner | null = null;
        try {
          runner = await this.getRunner();
        } catch (err) {
          this.report("iptables", err);
        }
        for (const rule of runner ? this.rules : []) {
          try {
            await runner?.delete(rule);
          } catch (err) {
            this.opts.log.error(
              `Failed deleting iptables rule ${describeRule(rule)}, error - ${(err as Error).message}`,
            );
            this.report(classifyIptablesError(err), err);
          }
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
