// The `template` plugin: its table entry (every `template` of a block, in order, in one handler) and
// its metrics as CoreDNS names them. Parsing compiles the Go templates (a bad one stops start-up with
// its line); the handler, its RR reader and dns-packet are imported only when a Corefile uses template.

import { Counter, registered } from "../../metrics/prom.ts";
import type { PluginEnv } from "../types.ts";
import { definePlugin } from "../types.ts";
import type { TemplateCounters } from "./handler.ts";
import { parseTemplate, type TemplateConfig } from "./parse.ts";

export { GoTemplate } from "./gotemplate.ts";

function counter<L extends string>(env: PluginEnv, name: string, help: string, labelNames: L[]): Counter<L> {
  const registry = env.metrics.registry;
  return registered(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

function templateCounters(env: PluginEnv): TemplateCounters {
  const base = ["server", "zone", "view", "class", "type"] as const;
  const matches = counter(env, "coredns_template_matches_total", "Counter of template regex matches.", [
    ...base,
  ]);
  const withSection = [...base, "section", "template"] as const;
  const templateFailures = counter(
    env,
    "coredns_template_template_failures_total",
    "Counter of go template failures.",
    [...withSection],
  );
  const rrFailures = counter(env, "coredns_template_rr_failures_total", "Counter of mis-templated RRs.", [
    ...withSection,
  ]);
  return {
    matched: (zone, klass, type) => matches.labels(env.server, zone, "", klass, type).inc(),
    failed: (kind, zone, klass, type, section, source) =>
      (kind === "template" ? templateFailures : rrFailures)
        .labels(env.server, zone, "", klass, type, section, source)
        .inc(),
  };
}

export const templatePlugin = definePlugin<TemplateConfig>({
  name: "template",
  repeatable: true,
  parse: parseTemplate,
  async load() {
    const { TemplatePlugin } = await import("./handler.ts");
    return (configs, env) => new TemplatePlugin(configs, templateCounters(env), env.resolve);
  },
});
