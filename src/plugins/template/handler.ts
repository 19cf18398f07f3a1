// The template handler (CoreDNS semantics): the block's templates in Corefile order; the first whose
// zone, class, type and a regex match answers with its rendered records and rcode. A template whose
// zone matches but nothing else does is SERVFAIL unless it falls through (to the next template, then
// to the next plugin). Names outside every template zone pass on untouched.

import * as packet from "dns-packet";
import { errorReply, nameToWire, RCODE, TYPE } from "../../dns/index.ts";
import { deliver, type Handler, type Next, type Query } from "../../server/index.ts";
import { classText, typeText } from "../codes.ts";
import { compileGoRegexp } from "../regexp.ts";
import { answer, type DnsRecord, questionName } from "../reply.ts";
import { fallsThrough, matchZone } from "../zones.ts";
import { GoTemplate } from "./gotemplate.ts";
import type { Section, TemplateConfig } from "./parse.ts";
import { parseRr } from "./rr.ts";

const ANY_CLASS = 255;

export type Resolve = (nameWire: Buffer, qtype: number) => Promise<Buffer | null>;

export interface TemplateCounters {
  matched(zone: string, klass: string, type: string): void;
  /** The Go template failed (`template`) or its output was no valid RR (`rr`). */
  failed(
    kind: "template" | "rr",
    zone: string,
    klass: string,
    type: string,
    section: Section,
    source: string,
  ): void;
}

interface Compiled {
  config: TemplateConfig;
  regexps: RegExp[];
  sections: Record<Section, GoTemplate[]>;
}

export interface TemplateData {
  Zone: string;
  Name: string;
  Regex: string;
  Match: string[];
  Group: Record<string, string>;
  Class: string;
  Type: string;
  Remote: string;
  Question: { Name: string; Qtype: number; Qclass: number };
  Message: { Id: number; Question: { Name: string; Qtype: number; Qclass: number }[] };
  Var: Record<string, string>;
}

export class TemplatePlugin implements Handler {
  readonly name = "template" as const;
  private readonly templates: Compiled[];
  private readonly zones: string[];
  private readonly counters: TemplateCounters;
  private readonly resolve: Resolve;

  constructor(configs: readonly TemplateConfig[], counters: TemplateCounters, resolve: Resolve) {
    this.counters = counters;
    this.resolve = resolve;
    this.templates = configs.map((config) => ({
      config,
      regexps: config.match.map((m) => compileGoRegexp(m) as RegExp),
      sections: {
        answer: config.answer.map((s) => new GoTemplate(s)),
        additional: config.additional.map((s) => new GoTemplate(s)),
        authority: config.authority.map((s) => new GoTemplate(s)),
      },
    }));
    this.zones = [...new Set(configs.flatMap((c) => c.zones))];
  }

  handle(query: Query, next: Next): void {
    const name = questionName(query);
    if (matchZone(this.zones, name) === null) {
      next(query);
      return;
    }
    for (const t of this.templates) {
      const data = matchTemplate(t, query, name);
      if (data === null) {
        if (fallsThrough(t.config.fallthrough, name)) continue;
        this.fail(query);
        return;
      }
      if (data === "skip") continue;
      this.counters.matched(data.Zone, data.Class, data.Type);
      if (t.config.rcode === RCODE.SERVFAIL) {
        this.fail(query);
        return;
      }
      const sections = this.render(t, data);
      if (sections === null) {
        this.fail(query);
        return;
      }
      const rcode = t.config.rcode;
      if (query.qtype === TYPE.A || query.qtype === TYPE.AAAA) {
        const targets = sections.answer
          .filter((rr) => rr.type === "CNAME")
          .map((rr) => (rr as { data: string }).data);
        if (targets.length > 0) {
          this.follow(query, targets, sections)
            .then(() => answer(query, "template", rcode, sections))
            .catch(() => {
              query.reusable = false;
              if (!query.answered) this.fail(query);
            });
          return;
        }
      }
      answer(query, "template", rcode, sections);
      return;
    }
    next(query);
  }

  /** CoreDNS: an A/AAAA answer that is a CNAME gets its target's records appended (resolved upstream). */
  private async follow(
    query: Query,
    targets: string[],
    sections: Record<Section, DnsRecord[]>,
  ): Promise<void> {
    for (const target of targets) {
      let wire: Buffer;
      try {
        wire = nameToWire(target);
      } catch {
        continue;
      }
      const reply = await this.resolve(wire, query.qtype);
      if (reply === null) continue;
      try {
        sections.answer.push(...(packet.decode(reply).answers ?? []));
      } catch {
        // an undecodable reply adds nothing, as a failed lookup in CoreDNS
      }
    }
  }

  private render(t: Compiled, data: TemplateData): Record<Section, DnsRecord[]> | null {
    const out: Record<Section, DnsRecord[]> = { answer: [], additional: [], authority: [] };
    for (const section of ["answer", "additional", "authority"] as const) {
      for (const template of t.sections[section]) {
        let text: string;
        try {
          text = template.execute(data);
        } catch {
          this.counters.failed("template", data.Zone, data.Class, data.Type, section, template.source);
          return null;
        }
        const rr = parseRr(text);
        if (typeof rr === "string") {
          this.counters.failed("rr", data.Zone, data.Class, data.Type, section, template.source);
          return null;
        }
        out[section].push(rr);
      }
    }
    return out;
  }

  private fail(query: Query): void {
    query.plugin = "template";
    deliver(query, errorReply(query, RCODE.SERVFAIL));
  }
}

/**
 * The template's data when it answers this query; "skip" when its zone, class or type do not apply
 * (always on to the next template); null when they do but no regex matches (fallthrough decides).
 */
function matchTemplate(t: Compiled, query: Query, name: string): TemplateData | "skip" | null {
  const zone = matchZone(t.config.zones, name);
  if (zone === null) return "skip";
  const { qclass, qtype } = t.config;
  if (qclass !== ANY_CLASS && query.qclass !== ANY_CLASS && query.qclass !== qclass) return "skip";
  if (qtype !== TYPE.ANY && query.qtype !== TYPE.ANY && query.qtype !== qtype) return "skip";
  for (const re of t.regexps) {
    const m = re.exec(name);
    if (m === null) continue;
    const group: Record<string, string> = {};
    m.forEach((v, i) => {
      group[String(i)] = v ?? "";
    });
    for (const [k, v] of Object.entries(m.groups ?? {})) group[k] = v ?? "";
    const question = { Name: name, Qtype: query.qtype, Qclass: query.qclass };
    return {
      Zone: zone,
      Name: name,
      Regex: re.source,
      Match: [...m].map((v) => v ?? ""),
      Group: group,
      Class: classText(query.qclass !== ANY_CLASS ? query.qclass : qclass),
      Type: typeText(query.qtype !== TYPE.ANY ? query.qtype : qtype),
      Remote: query.remoteAddress,
      Question: question,
      Message: { Id: query.id, Question: [question] },
      Var: {},
    };
  }
  return null;
}
