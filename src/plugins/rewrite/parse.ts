// `rewrite [continue|stop] FIELD ...` as CoreDNS parses it: a `name` rule (exact, prefix, suffix,
// substring, regex) with `answer auto|name FROM TO|value FROM TO` options, `type` and `class` rules.
// A rule may also be written as `rewrite [continue|stop] { ... }`, its block's words read in order.

import { type BuildContext, type Directive, normalizeName, Reader } from "../../config/for-plugins.ts";
import { canonicalName } from "../../dns/index.ts";
import { classCode, typeCode } from "../codes.ts";
import { compileGoRegexp, groupCount } from "../regexp.ts";

export type NameMatch = "exact" | "prefix" | "suffix" | "substring" | "regex";

/** A response rewrite: owner names (`name`) or record values (`value`), regex FROM -> TO. */
export interface AnswerRule {
  field: "name" | "value";
  from: string;
  to: string;
}

export type RewriteRule =
  | {
      field: "name";
      mode: "stop" | "continue";
      match: NameMatch;
      /** Lowercase names with a trailing dot for exact/suffix; as written otherwise (regex: pattern). */
      from: string;
      to: string;
      /** Map the rewritten name back in the response (always for `exact`). */
      auto: boolean;
      answers: AnswerRule[];
      line: number;
    }
  | { field: "type" | "class"; mode: "stop" | "continue"; from: number; to: number; line: number };

const USAGE =
  "rewrite [continue|stop] name [exact|prefix|suffix|substring|regex] FROM TO [answer auto|name FROM TO|value FROM TO]..." +
  " | rewrite [continue|stop] type|class FROM TO";

export function parseRewrite(ctx: BuildContext, d: Directive): RewriteRule {
  const r = new Reader(ctx, d, USAGE);
  let words = d.args.map((a) => a.text);
  // CoreDNS: with fewer than two arguments, the block's words are the rule.
  if (words.length < 2) for (const s of r.sub()) words.push(s.name, ...s.args.map((a) => a.text));
  else r.noBlock();
  const fail = (msg: string): never => r.fail(d.line, msg);
  if (words.length === 0) fail("no rule given");
  let mode: "stop" | "continue" = "stop";
  const first = words[0]!.toLowerCase();
  if (first === "stop" || first === "continue") {
    mode = first;
    words = words.slice(1);
    if (words.length === 0) fail(`a ${first} rule must begin with a rule type`);
  }
  const field = words[0]!.toLowerCase();
  const rest = words.slice(1);
  switch (field) {
    case "name":
      return { ...parseNameRule(rest, fail), field: "name", mode, line: d.line };
    case "type":
    case "class": {
      if (rest.length !== 2) fail(`${field} rules must have exactly two arguments, got ${rest.length}`);
      const code = (w: string) =>
        (field === "type" ? typeCode(w) : classCode(w)) ?? fail(`invalid ${field} "${w.toUpperCase()}"`);
      return { field, mode, from: code(rest[0]!), to: code(rest[1]!), line: d.line };
    }
    case "answer":
      return fail("response rewrites must begin with a name rule");
    case "edns0":
    case "ttl":
    case "cname":
    case "rcode":
      return fail(`the ${field} rule is not supported by nodelocaldns (supported: name, type, class)`);
    default:
      return fail(`invalid rule type "${words[0]}"; allowed: name, type, class`);
  }
}

type NameParts = Omit<Extract<RewriteRule, { field: "name" }>, "field" | "mode" | "line">;

function parseNameRule(args: string[], fail: (msg: string) => never): NameParts {
  if (args.length < 2) fail("too few arguments for a name rule");
  let match: NameMatch = "exact";
  let from: string;
  let to: string;
  if (args.length === 2) {
    from = name(args[0]!, fail);
    to = name(args[1]!, fail);
  } else {
    const m = args[0]!.toLowerCase();
    if (!["exact", "prefix", "suffix", "substring", "regex"].includes(m))
      fail(
        `name rule supports only exact, prefix, suffix, substring, and regex name matching, got "${args[0]}"`,
      );
    match = m as NameMatch;
    if (match === "regex") {
      from = args[1]!;
      to = canonicalName(args[2]!);
      checkPattern(from, to, fail);
    } else {
      // plugin.Name(...).Normalize(): lowercase, trailing dot (prefix and substring keep it too).
      from = canonicalName(args[1]!);
      to = canonicalName(args[2]!);
    }
  }
  const { auto, answers } =
    args.length > 3 ? parseAnswers(args.slice(3), fail) : { auto: false, answers: [] };
  return { match, from, to, auto: auto || match === "exact", answers };
}

function name(text: string, fail: (msg: string) => never): string {
  return normalizeName(text) ?? fail(`"${text}" is not a valid domain name`);
}

function checkPattern(from: string, to: string, fail: (msg: string) => never): void {
  const re = compileGoRegexp(from);
  if (typeof re === "string") fail(re);
  let used = 0;
  for (let i = 0; i <= 100; i++) if (to.includes(`{${i}}`)) used++;
  if (used > groupCount(re))
    fail(`the rewrite pattern (${to}) uses more subexpressions than its matching pattern (${from}) has`);
}

function parseAnswers(
  args: string[],
  fail: (msg: string) => never,
): { auto: boolean; answers: AnswerRule[] } {
  let auto = false;
  let explicitNames = 0;
  const answers: AnswerRule[] = [];
  let i = 0;
  if (args.length < 2) fail("invalid arguments for the answer rule");
  if (args[0] !== "answer") fail(`unexpected "${args[0]}" after the name rule; expected: answer ...`);
  while (i < args.length) {
    if (args[i] === "answer") i++;
    const kind = args[i++];
    if (kind === undefined) fail("answer rule: type missing (auto, name or value)");
    if (kind === "auto") {
      auto = true;
      continue;
    }
    if (kind !== "name" && kind !== "value")
      fail(`invalid type "${kind}" for an answer rule; allowed: auto, name, value`);
    if (args.length - i < 2) fail(`answer ${kind} needs 2 arguments: FROM TO`);
    const from = args[i]!;
    const to = canonicalName(args[i + 1]!);
    checkPattern(from, to, fail);
    answers.push({ field: kind as "name" | "value", from, to });
    if (kind === "name") explicitNames++;
    i += 2;
  }
  if (auto && explicitNames > 0) fail("answer auto cannot be combined with explicit answer name rules");
  return { auto, answers };
}
