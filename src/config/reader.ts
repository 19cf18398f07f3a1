// Helpers the directive builders share: argument counts and typed values, each failure a ConfigError
// that names the directive, what was wrong and the accepted syntax.

import { ConfigError } from "../errors/index.ts";
import type { Arg, Directive } from "./parser.ts";
import { parseDuration, parseInt10, zonesOf } from "./values.ts";

export interface BuildContext {
  file: string;
  readFile: (path: string) => string;
  /** Zones of the whole server block (every key, every port), for "default to the block's zones". */
  blockZones: string[];
}

export class Reader {
  readonly ctx: BuildContext;
  readonly d: Directive;
  /** Syntax of the whole directive, quoted in messages about its arguments. */
  readonly usage: string;

  constructor(ctx: BuildContext, d: Directive, usage: string) {
    this.ctx = ctx;
    this.d = d;
    this.usage = usage;
  }

  fail(line: number, msg: string, usage: string | null = this.usage): never {
    throw new ConfigError(this.d.file, line, `${this.d.name}: ${msg}${usage ? `; expected: ${usage}` : ""}`);
  }

  /** The directive must have between min and max arguments (max -1 = unbounded). */
  count(args: Arg[], min: number, max: number, line: number, usage: string = this.usage, what = ""): void {
    const label = what === "" ? "" : `${what} `;
    if (args.length < min)
      this.fail(
        line,
        `${label}needs ${min === max ? "" : "at least "}${min} argument${min === 1 ? "" : "s"}, got ${args.length}`,
        usage,
      );
    if (max >= 0 && args.length > max) {
      const extra = args[max]!;
      this.fail(extra.line, `${label}has too many arguments (unexpected "${extra.text}")`, usage);
    }
  }

  noBlock(d: Directive = this.d, usage: string = this.usage): void {
    if (d.block !== null) this.fail(d.line, `${d === this.d ? "" : `${d.name} `}takes no { } block`, usage);
  }

  /** Sub-directives of the block (empty when there is none). */
  sub(): Directive[] {
    return this.d.block ?? [];
  }

  int(a: Arg, what: string, usage: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = parseInt10(a.text);
    if (n === null) this.fail(a.line, `${what} "${a.text}" is not a whole number`, usage);
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      this.fail(a.line, `${what} ${n} is out of range; it must be ${range}`, usage);
    }
    return n;
  }

  /** A Go duration in ms, at least `minMs`. */
  duration(a: Arg, what: string, usage: string, minMs = 0, maxMs = Number.POSITIVE_INFINITY): number {
    const ms = parseDuration(a.text);
    if (ms === null) {
      this.fail(
        a.line,
        `${what} "${a.text}" is not a duration (Go syntax, e.g. 500ms, 30s, 1m, 1h30m)`,
        usage,
      );
    }
    if (ms < minMs) this.fail(a.line, `${what} ${a.text} must be at least ${fmtMs(minMs)}`, usage);
    if (ms > maxMs) this.fail(a.line, `${what} ${a.text} must be at most ${fmtMs(maxMs)}`, usage);
    return ms;
  }

  zones(args: Arg[], what = "zone"): string[] {
    const out: string[] = [];
    for (const a of args) {
      const z = zonesOf(a.text);
      if (z === null) this.fail(a.line, `${what} "${a.text}" is not a valid domain name or IP prefix`);
      for (const x of z) if (!out.includes(x)) out.push(x);
    }
    return out;
  }

  /** A sub-directive not in `allowed`. */
  unknownSub(s: Directive, allowed: string[]): never {
    this.fail(s.line, `unknown option "${s.name}"; allowed: ${allowed.join(", ")}`, null);
  }
}

export function fmtMs(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** node-cache's __PILLAR__X__ placeholders must be substituted before parsing; say so. */
export function placeholderHint(text: string): string {
  return /__PILLAR__\w*__/.test(text) ? " (an unsubstituted __PILLAR__ placeholder)" : "";
}
