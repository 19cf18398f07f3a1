// The `rewrite` plugin: its table entry (every `rewrite` line of a block is one rule, in order). The
// handler (and dns-packet behind it) is imported only when a Corefile uses rewrite.

import { definePlugin } from "../types.ts";
import { parseRewrite, type RewriteRule } from "./parse.ts";

export const rewritePlugin = definePlugin<RewriteRule>({
  name: "rewrite",
  repeatable: true,
  parse: parseRewrite,
  async load() {
    const { RewritePlugin } = await import("./handler.ts");
    return (rules, env) =>
      new RewritePlugin(rules, (error) =>
        env.log.error({ err: error }, "rewrite: reply could not be restored"),
      );
  },
});
