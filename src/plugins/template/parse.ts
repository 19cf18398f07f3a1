// `template CLASS TYPE [ZONE...] { match REGEX...; answer RR...; additional RR...; authority RR...;
// rcode CODE; fallthrough [ZONE...] }` as CoreDNS parses it. Templates are compiled here, so a bad
// template stops start-up with its line.

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import { classCode, typeCode } from "../codes.ts";
import { compileGoRegexp } from "../regexp.ts";
import { GoTemplate, TemplateError } from "./gotemplate.ts";

export type Section = "answer" | "additional" | "authority";

export interface TemplateConfig {
  qclass: number;
  qtype: number;
  /** Zones this template answers for (the block's when none are given). */
  zones: string[];
  /** Go regexps (as written); [".*"] when none are given. */
  match: string[];
  answer: string[];
  additional: string[];
  authority: string[];
  rcode: number;
  /** Extended DNS error (RFC 8914) code and text; accepted, not sent (see README). */
  ederror: { code: number; reason: string } | null;
  /** null = no fallthrough; [] = fallthrough for every zone. */
  fallthrough: string[] | null;
  line: number;
}

const USAGE =
  "template CLASS TYPE [ZONE...] { match REGEX...; answer RR...; additional RR...; authority RR...; rcode CODE; fallthrough [ZONE...] }";

// biome-ignore format: a table reads better packed
const RCODES: Readonly<Record<string, number>> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7,
  NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10,
};

const OPTIONS = ["match", "answer", "additional", "authority", "rcode", "ederror", "fallthrough", "upstream"];

export function parseTemplate(ctx: BuildContext, d: Directive): TemplateConfig {
  const r = new Reader(ctx, d, USAGE);
  r.count(d.args, 2, -1, d.line);
  const [classArg, typeArg] = d.args as [(typeof d.args)[0], (typeof d.args)[0]];
  const qclass = classCode(classArg.text) ?? r.fail(classArg.line, `invalid query class "${classArg.text}"`);
  const qtype = typeCode(typeArg.text) ?? r.fail(typeArg.line, `invalid query type "${typeArg.text}"`);
  const zones = d.args.length > 2 ? r.zones(d.args.slice(2)) : ctx.blockZones;
  const t: TemplateConfig = {
    qclass,
    qtype,
    zones,
    match: [],
    answer: [],
    additional: [],
    authority: [],
    rcode: 0,
    ederror: null,
    fallthrough: null,
    line: d.line,
  };
  for (const s of r.sub()) {
    const usage = `${s.name} ...`;
    r.noBlock(s, usage);
    const values = s.args.map((a) => a.text);
    switch (s.name) {
      case "match":
        r.count(s.args, 1, -1, s.line, "match REGEX...", "match");
        for (const a of s.args) {
          const re = compileGoRegexp(a.text);
          if (typeof re === "string") r.fail(a.line, `could not parse regex: ${re}`);
        }
        t.match.push(...values);
        break;
      case "answer":
      case "additional":
      case "authority":
        r.count(s.args, 1, -1, s.line, `${s.name} RR...`, s.name);
        for (const a of s.args) {
          try {
            new GoTemplate(a.text);
          } catch (error) {
            if (!(error instanceof TemplateError)) throw error;
            r.fail(a.line, `could not compile template "${a.text}": ${error.message}`);
          }
        }
        t[s.name].push(...values);
        break;
      case "rcode":
        r.count(s.args, 1, 1, s.line, "rcode CODE", "rcode");
        t.rcode =
          RCODES[values[0]!.toUpperCase()] ??
          r.fail(s.line, `unknown rcode "${values[0]}"; allowed: ${Object.keys(RCODES).join(", ")}`);
        break;
      case "ederror": {
        r.count(s.args, 1, 2, s.line, "ederror CODE [REASON]", "ederror");
        const code = r.int(s.args[0]!, "extended error code", "ederror CODE [REASON]", 0, 65535);
        t.ederror = { code, reason: values[1] ?? "" };
        break;
      }
      case "fallthrough":
        t.fallthrough = r.zones(s.args);
        break;
      case "upstream":
        break; // CoreDNS ignores its arguments too
      case "var":
      case "expr":
        r.fail(s.line, `${s.name} (expr-language conditions) is not supported by nodelocaldns`);
        break;
      default:
        r.unknownSub(s, OPTIONS);
    }
  }
  if (t.match.length === 0) t.match.push(".*");
  return t;
}
