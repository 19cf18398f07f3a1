// Applying rewrite rules to a question, and the response rewriters a match leaves behind, with
// CoreDNS's semantics: rules run in order; a matching `stop` rule ends the list; every name rule
// matches the question as the client asked it (CoreDNS caches the request's name); `answer auto`
// maps the rewritten name back (suffix rules: the suffix back); response rules run last-first.

import { compileGoRegexp } from "../regexp.ts";
import type { AnswerRule, RewriteRule } from "./parse.ts";

export interface Question {
  /** Lowercase, trailing dot. */
  name: string;
  type: number;
  class: number;
}

/** Rewrites a name in the response: an owner name (`name`) or a record's target (`value`). */
export interface ResponseRewriter {
  field: "name" | "value";
  rewrite(name: string): string;
}

export interface Rewritten {
  question: Question;
  response: ResponseRewriter[];
}

type NameRule = Extract<RewriteRule, { field: "name" }>;

/** A compiled rule: the question in, a rewritten question and its response rewriters out (or null). */
export type CompiledRule = {
  mode: "stop" | "continue";
  apply(original: Question, current: Question): { question: Question; response: ResponseRewriter[] } | null;
};

export function compile(rule: RewriteRule): CompiledRule {
  if (rule.field !== "name") {
    const { field, from, to } = rule;
    return {
      mode: rule.mode,
      apply: (_original, current) =>
        current[field] === from ? { question: { ...current, [field]: to }, response: [] } : null,
    };
  }
  const statics = rule.answers.map(answerRewriter);
  const rewriteName = nameRewriter(rule);
  const suffixBack =
    rule.match === "suffix" && rule.auto ? remap((n) => cutSuffix(n, rule.to, rule.from)) : null;
  return {
    mode: rule.mode,
    apply(original, current) {
      const name = rewriteName(original.name);
      if (name === null) return null;
      let response: ResponseRewriter[];
      if (suffixBack !== null) response = [...suffixBack, ...statics];
      else if (rule.auto && rule.match !== "suffix") {
        response = [...remap((n) => remapName(n, name, original.name)), ...statics];
      } else response = statics;
      return { question: { ...current, name }, response };
    },
  };
}

/** Run the rules over a question; null when none matched. */
export function rewriteQuestion(rules: readonly CompiledRule[], question: Question): Rewritten | null {
  let current = question;
  const response: ResponseRewriter[] = [];
  let matched = false;
  for (const rule of rules) {
    const result = rule.apply(question, current);
    if (result === null) continue;
    matched = true;
    current = result.question;
    response.push(...result.response);
    if (rule.mode === "stop") break;
  }
  return matched ? { question: current, response } : null;
}

function nameRewriter(rule: NameRule): (name: string) => string | null {
  const { from, to } = rule;
  switch (rule.match) {
    case "exact":
      return (n) => (n === from ? to : null);
    case "prefix":
      return (n) => (n.startsWith(from) ? to + n.slice(from.length) : null);
    case "suffix":
      return (n) => cutSuffix(n, from, to);
    case "substring":
      return (n) => (n.includes(from) ? n.replaceAll(from, to) : null);
    case "regex": {
      const re = compileGoRegexp(from) as RegExp;
      return (n) => {
        const m = re.exec(n);
        return m === null ? null : substituteGroups(to, m);
      };
    }
  }
}

function cutSuffix(name: string, suffix: string, replacement: string): string | null {
  return name.endsWith(suffix) ? name.slice(0, name.length - suffix.length) + replacement : null;
}

/** remapStringRewriter: the whole name, or a suffix at a label boundary, `from` -> `to`. */
function remapName(name: string, from: string, to: string): string | null {
  if (name === from) return to;
  const i = name.length - from.length;
  if (i > 0 && name[i - 1] === "." && name.endsWith(from)) return name.slice(0, i) + to;
  return null;
}

function remap(fn: (name: string) => string | null): ResponseRewriter[] {
  const rewrite = (n: string) => fn(n) ?? n;
  return [
    { field: "name", rewrite },
    { field: "value", rewrite },
  ];
}

function answerRewriter(a: AnswerRule): ResponseRewriter {
  const re = compileGoRegexp(a.from) as RegExp;
  return {
    field: a.field,
    rewrite: (n) => {
      const m = re.exec(n);
      return m === null ? n : substituteGroups(a.to, m);
    },
  };
}

/** `{0}`, `{1}`, ... in `template` replaced by the match's groups (as CoreDNS's regex rules do). */
function substituteGroups(template: string, m: RegExpExecArray): string {
  let s = template;
  for (let i = 0; i < m.length; i++) s = s.replaceAll(`{${i}}`, m[i] ?? "");
  return s;
}
