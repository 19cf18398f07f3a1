// The small directives: bind, errors, log, prometheus, health, ready, reload, loop (CoreDNS syntax).

import type { Directive } from "./parser.ts";
import { type BuildContext, fmtMs, placeholderHint, Reader } from "./reader.ts";
import type {
  ErrorsConfig,
  ErrorsConsolidate,
  HealthConfig,
  LogConfig,
  LoopConfig,
  ReloadConfig,
} from "./types.ts";
import { isIpLiteral, normalizeName, parseListenAddress } from "./values.ts";

export function buildBind(ctx: BuildContext, d: Directive): string[] {
  const usage = "bind ADDRESS...";
  const r: Reader = new Reader(ctx, d, usage);
  r.noBlock();
  r.count(d.args, 1, -1, d.line);
  return d.args.map((a) => {
    if (!isIpLiteral(a.text)) {
      const iface = /^[A-Za-z][\w.-]{0,14}$/.test(a.text) && !a.text.includes("__");
      r.fail(
        a.line,
        iface
          ? `"${a.text}" looks like an interface name; nodelocaldns binds IP addresses only (write the interface's address)`
          : `"${a.text}" is not an IP address${placeholderHint(a.text)}`,
      );
    }
    // Lowercase the address, not an IPv6 %zone (interface names are case-sensitive).
    const z = a.text.indexOf("%");
    return z === -1 ? a.text.toLowerCase() : a.text.slice(0, z).toLowerCase() + a.text.slice(z);
  });
}

const LEVELS = ["warning", "error", "info", "debug"] as const;

export function buildErrors(ctx: BuildContext, d: Directive): ErrorsConfig {
  const usage = "errors [stdout] [{ consolidate DURATION REGEXP [LEVEL]; stacktrace }]";
  const r: Reader = new Reader(ctx, d, usage);
  r.count(d.args, 0, 1, d.line);
  if (d.args[0] && d.args[0].text !== "stdout")
    r.fail(d.args[0].line, `invalid log destination "${d.args[0].text}"`);
  const consolidate: ErrorsConsolidate[] = [];
  let stacktrace = false;
  for (const s of r.sub()) {
    if (s.name === "consolidate") {
      const u = "consolidate DURATION REGEXP [warning|error|info|debug]";
      r.noBlock(s, u);
      r.count(s.args, 2, 3, s.line, u, "consolidate");
      const periodMs = r.duration(s.args[0]!, "consolidate duration", u, 1);
      const pattern = s.args[1]!.text;
      if (!validRegexp(pattern))
        r.fail(s.args[1]!.line, `consolidate pattern "${pattern}" is not a valid regular expression`, u);
      const level = (s.args[2]?.text ?? "error") as ErrorsConsolidate["level"];
      if (!LEVELS.includes(level)) r.fail(s.args[2]!.line, `unknown log level "${level}"`, u);
      consolidate.push({ periodMs, pattern, level });
    } else if (s.name === "stacktrace" || s.name === "panicRecoveryStacktrace") {
      r.noBlock(s, "stacktrace");
      r.count(s.args, 0, 0, s.line, "stacktrace", s.name);
      stacktrace = true;
    } else {
      r.unknownSub(s, ["consolidate", "stacktrace"]);
    }
  }
  return { consolidateMs: consolidate[0]?.periodMs ?? 0, consolidate, stacktrace, line: d.line };
}

/** Go RE2 syntax is close to JS for the patterns people write; leading (?flags) is turned into JS flags. */
function validRegexp(src: string): boolean {
  const m = src.match(/^\(\?([imsU]+)\)/);
  const flags = m ? [...new Set(m[1]!.replace("U", ""))].join("") : "";
  try {
    new RegExp(m ? src.slice(m[0].length) : src, flags);
    return true;
  } catch {
    return false;
  }
}

const CLASSES = ["all", "denial", "error", "success"];

export function buildLog(ctx: BuildContext, d: Directive): LogConfig {
  const usage = "log [NAMES...] [FORMAT] [{ class all|denial|error|success }]";
  const r: Reader = new Reader(ctx, d, usage);
  let args = d.args;
  let format = "{common}";
  // As CoreDNS: with two or more arguments, a last one containing "{" is the format.
  if (args.length > 1 && args[args.length - 1]!.text.includes("{")) {
    format = args[args.length - 1]!.text;
    args = args.slice(0, -1);
  }
  const names =
    args.length === 0
      ? ["."]
      : args.map(
          (a) => normalizeName(a.text) ?? r.fail(a.line, `name "${a.text}" is not a valid domain name`),
        );
  const classes: string[] = [];
  for (const s of r.sub()) {
    if (s.name !== "class") r.unknownSub(s, ["class"]);
    const u = "class all|denial|error|success...";
    r.noBlock(s, u);
    r.count(s.args, 1, -1, s.line, u, "class");
    for (const a of s.args) {
      const c = a.text.toLowerCase();
      if (!CLASSES.includes(c)) r.fail(a.line, `unknown class "${a.text}"`, u);
      if (!classes.includes(c)) classes.push(c);
    }
  }
  return { classes: classes.length === 0 ? ["all"] : classes, names, format, line: d.line };
}

/** A directive's optional listen ADDRESS (default `def`), validated with the uniform message. */
export function readListenAddress(r: Reader, d: Directive, def: string): string {
  r.count(d.args, 0, 1, d.line);
  const a = d.args[0];
  const out = parseListenAddress(a ? a.text : def);
  if (out.startsWith("!"))
    r.fail(a!.line, `address "${a!.text}": ${out.slice(1)}${placeholderHint(a!.text)}`);
  return out;
}

export function buildPrometheus(ctx: BuildContext, d: Directive): string {
  const r: Reader = new Reader(ctx, d, "prometheus [ADDRESS] (default localhost:9153)");
  r.noBlock();
  return readListenAddress(r, d, "localhost:9153");
}

export function buildReady(ctx: BuildContext, d: Directive): string {
  const r: Reader = new Reader(ctx, d, "ready [ADDRESS] (default :8181)");
  r.noBlock();
  return readListenAddress(r, d, ":8181");
}

export function buildHealth(ctx: BuildContext, d: Directive): HealthConfig {
  const r: Reader = new Reader(ctx, d, "health [ADDRESS] [{ lameduck DURATION }] (default :8080)");
  const addr = readListenAddress(r, d, ":8080");
  let lameduckMs = 0;
  for (const s of r.sub()) {
    if (s.name !== "lameduck") r.unknownSub(s, ["lameduck"]);
    const u = "lameduck DURATION";
    r.noBlock(s, u);
    r.count(s.args, 1, 1, s.line, u, "lameduck");
    lameduckMs = r.duration(s.args[0]!, "lameduck duration", u);
  }
  return { address: addr, lameduckMs, line: d.line };
}

const MIN_INTERVAL = 2000;
const MIN_JITTER = 1000;

export function buildReload(ctx: BuildContext, d: Directive): ReloadConfig {
  const usage = `reload [INTERVAL] [JITTER] (INTERVAL >= ${fmtMs(MIN_INTERVAL)}, JITTER >= ${fmtMs(MIN_JITTER)})`;
  const r: Reader = new Reader(ctx, d, usage);
  r.noBlock();
  r.count(d.args, 0, 2, d.line);
  const intervalMs = d.args[0] ? r.duration(d.args[0], "interval", usage, MIN_INTERVAL) : 30_000;
  const jitter = d.args[1] ? r.duration(d.args[1], "jitter", usage, MIN_JITTER) : 15_000;
  // CoreDNS caps the jitter at half the interval rather than rejecting it.
  return { intervalMs, jitterMs: Math.min(jitter, intervalMs / 2), line: d.line };
}

export function buildLoop(ctx: BuildContext, d: Directive): LoopConfig {
  const r: Reader = new Reader(ctx, d, "loop");
  r.noBlock();
  r.count(d.args, 0, 0, d.line);
  return { line: d.line };
}
