// The `reload` directive: poll the Corefile (after regenerating it from the base file and the
// kube-dns ConfigMap, in node-cache mode); a changed, valid file replaces the running config; an
// invalid one is logged and counted in coredns_reload_failed_total and the old config keeps serving.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config, ReloadConfig } from "../config/types.ts";
import type { Logger } from "../log/index.ts";
import { Poller } from "./poller.ts";

/** node-cache's period for re-reading the base file and the ConfigMap directory. */
export const CONFIG_SYNC_PERIOD_MS = 10_000;

export interface ReloadDeps {
  confFile: string;
  /** Regenerates -conf (node-cache mode); null when -conf is served as it is. May throw. */
  regenerate: (() => void) | null;
  parse(text: string): Config;
  /** Replaces the running configuration; throws when the new one cannot start (old one kept). */
  apply(config: Config): Promise<void>;
  log: Logger;
  /** Counts coredns_reload_failed_total. */
  failed(): void;
  /** Reports the running Corefile's hash (coredns_reload_version_info). */
  version(sha512: string): void;
  read?: (path: string) => string;
  random?: () => number;
}

export type CheckResult = "unchanged" | "reloaded" | "failed";

export function sha512(text: string): string {
  return createHash("sha512").update(text).digest("hex");
}

/** The reload settings in force: CoreDNS applies one reload per instance; the first block's wins. */
export function reloadOf(config: Config): ReloadConfig | null {
  return config.blocks.find((b) => b.reload !== null)?.reload ?? null;
}

export class ReloadController {
  private readonly d: ReloadDeps;
  private readonly read: (path: string) => string;
  private sum: string;
  private reload: Poller | null = null;
  private sync: Poller | null = null;
  private checking: Promise<CheckResult> | null = null;

  constructor(deps: ReloadDeps, runningText: string) {
    this.d = deps;
    this.read = deps.read ?? ((path) => readFileSync(path, "utf8"));
    this.sum = sha512(runningText);
    deps.version(this.sum);
  }

  /** Starts polling as `config` asks; the node-cache sync runs whenever there is a base file. */
  start(config: Config): void {
    if (this.d.regenerate !== null && this.sync === null) {
      this.sync = new Poller({
        intervalMs: CONFIG_SYNC_PERIOD_MS,
        jitterMs: 0,
        tick: () => {
          this.regenerate();
        },
        onError: (error) => this.d.log.error({ err: error }, "config sync failed"),
      });
      this.sync.start();
    }
    this.follow(config);
  }

  stop(): void {
    this.reload?.stop();
    this.sync?.stop();
    this.reload = null;
    this.sync = null;
  }

  /** One reload pass (also what each tick runs); concurrent calls share one pass. */
  check(): Promise<CheckResult> {
    this.checking ??= this.pass().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private follow(config: Config): void {
    const r = reloadOf(config);
    if (r === null) {
      this.reload?.stop();
      this.reload = null;
      return;
    }
    if (this.reload === null) {
      this.reload = new Poller({
        intervalMs: r.intervalMs,
        jitterMs: r.jitterMs,
        tick: async () => {
          await this.check();
        },
        onError: (error) => this.d.log.error({ err: error }, "reload check failed"),
        ...(this.d.random ? { random: this.d.random } : {}),
      });
      this.reload.start();
    } else {
      this.reload.configure(r.intervalMs, r.jitterMs);
    }
  }

  private regenerate(): boolean {
    if (this.d.regenerate === null) return true;
    try {
      this.d.regenerate();
      return true;
    } catch (error) {
      this.d.log.error({ err: error }, `Corefile changed but reload failed: ${(error as Error).message}`);
      this.d.failed();
      return false;
    }
  }

  private async pass(): Promise<CheckResult> {
    if (!this.regenerate()) return "failed";
    let text: string;
    try {
      text = this.read(this.d.confFile);
    } catch (error) {
      this.d.log.error({ err: error }, `cannot read ${this.d.confFile}: ${(error as Error).message}`);
      this.d.failed();
      return "failed";
    }
    const sum = sha512(text);
    if (sum === this.sum) return "unchanged";
    let config: Config;
    try {
      config = this.d.parse(text);
    } catch (error) {
      this.d.log.error(
        { file: this.d.confFile },
        `Corefile changed but reload failed: ${(error as Error).message}`,
      );
      this.d.failed();
      return "failed";
    }
    this.d.log.info({ file: this.d.confFile }, "Reloading");
    try {
      await this.d.apply(config);
    } catch (error) {
      this.d.log.error({ err: error }, `Corefile changed but reload failed: ${(error as Error).message}`);
      this.d.failed();
      return "failed";
    }
    this.sum = sum;
    this.d.version(sum);
    this.follow(config);
    this.d.log.info({ file: this.d.confFile }, "Reloading complete");
    return "reloaded";
  }
}
