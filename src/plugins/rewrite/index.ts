// The `rewrite` plugin: its table entry (every `rewrite` line of a block is one rule, in order).

import { definePlugin } from "../types.ts";
import { RewritePlugin } from "./handler.ts";
import { parseRewrite, type RewriteRule } from "./parse.ts";

export { RewritePlugin, restore } from "./handler.ts";
export { type AnswerRule, type NameMatch, parseRewrite, type RewriteRule } from "./parse.ts";
export { compile, rewriteQuestion } from "./rules.ts";

export const rewritePlugin = definePlugin<RewriteRule>({
  name: "rewrite",
  repeatable: true,
  parse: parseRewrite,
  handler: (rules, env) =>
    new RewritePlugin(rules, (error) =>
      env.log.error({ err: error }, "rewrite: reply could not be restored"),
    ),
});
