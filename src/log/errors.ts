// The `errors` directive's log: upstream failures and other per-query errors without a flood.
// - A message matching a `consolidate DURATION REGEXP [LEVEL]` rule is only counted; once per
//   DURATION one line says how many (CoreDNS: "N errors like 'REGEXP' occurred in last DURATION").
// - Any other message is logged the first time for its key (e.g. the upstream), then at most once
//   per interval with the count of that interval; after a quiet interval the next one logs at once.

import type { ErrorsConfig } from "../config/types.ts";
import type { Logger } from "./index.ts";

type Level = "error" | "warn" | "info" | "debug";

/** Go RE2 patterns as written in a Corefile: a leading (?flags) group becomes JS flags. */
export function goRegexp(source: string): RegExp {
  const m = source.match(/^\(\?([imsU]+)\)/);
  if (m === null) return new RegExp(source);
  const flags = [...new Set(m[1]!.replace("U", ""))].join("");
  return new RegExp(source.slice(m[0].length), flags);
}

/** A duration as Go's time.Duration prints it: 500ms, 30s, 1m0s, 1m30s, 1h0m0s. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export interface ErrorsLogOptions {
  log: Logger;
  /** The block's `errors` directive (consolidate rules); null = plain rate limit only. */
  config: ErrorsConfig | null;
  /** Window per key for messages no rule consolidates (default 10 s). */
  intervalMs?: number;
}

interface Rule {
  pattern: string;
  regexp: RegExp;
  periodMs: number;
  level: Level;
  count: number;
  timer: NodeJS.Timeout | null;
}

interface Window {
  count: number;
  message: string;
  fields: Record<string, unknown>;
  timer: NodeJS.Timeout;
}

function levelOf(level: string): Level {
  return level === "warning" ? "warn" : (level as Level);
}

export class ErrorsLog {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly rules: Rule[];
  private readonly windows = new Map<string, Window>();
  private closed = false;

  constructor(options: ErrorsLogOptions) {
    this.log = options.log;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.rules = (options.config?.consolidate ?? []).map((c) => ({
      pattern: c.pattern,
      regexp: goRegexp(c.pattern),
      periodMs: c.periodMs,
      level: levelOf(c.level),
      count: 0,
      timer: null,
    }));
  }

  /** One error; `key` groups the rate limit (the upstream address, for upstream failures). */
  report(key: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.closed) return;
    for (const rule of this.rules) {
      if (!rule.regexp.test(message)) continue;
      rule.count++;
      rule.timer ??= this.timer(rule.periodMs, () => this.flushRule(rule));
      return;
    }
    const window = this.windows.get(key);
    if (window !== undefined) {
      window.count++;
      window.message = message;
      window.fields = fields;
      return;
    }
    this.log.error({ ...fields, plugin: "errors", key, count: 1 }, message);
    this.open(key, message, fields);
  }

  /** Log what is still counted and stop the timers. */
  close(): void {
    this.closed = true;
    for (const rule of this.rules) {
      if (rule.timer !== null) clearTimeout(rule.timer);
      this.flushRule(rule);
    }
    for (const [key, window] of this.windows) {
      clearTimeout(window.timer);
      this.flushWindow(key, window, false);
    }
    this.windows.clear();
  }

  private open(key: string, message: string, fields: Record<string, unknown>): void {
    const window: Window = { count: 0, message, fields, timer: null as unknown as NodeJS.Timeout };
    window.timer = this.timer(this.intervalMs, () => this.flushWindow(key, window, true));
    this.windows.set(key, window);
  }

  private flushRule(rule: Rule): void {
    rule.timer = null;
    if (rule.count === 0) return;
    const count = rule.count;
    rule.count = 0;
    const period = goDuration(rule.periodMs);
    this.log[rule.level](
      { plugin: "errors", count, pattern: rule.pattern, periodMs: rule.periodMs },
      `${count} errors like '${rule.pattern}' occurred in last ${period}`,
    );
  }

  private flushWindow(key: string, window: Window, reopen: boolean): void {
    this.windows.delete(key);
    if (window.count === 0) return;
    this.log.error(
      { ...window.fields, plugin: "errors", key, count: window.count, periodMs: this.intervalMs },
      `${window.message} (${window.count} times in last ${goDuration(this.intervalMs)})`,
    );
    if (reopen && !this.closed) this.open(key, window.message, window.fields);
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  }
}
