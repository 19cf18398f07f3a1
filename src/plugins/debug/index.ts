// `debug` (CoreDNS): there it stops recovering from panics and turns on debug messages. Here a
// failed query is always caught and answered SERVFAIL (a crash would drop every other query), so
// the nearest useful thing is the verbose side: while any block has `debug`, the log level is
// `debug` and each failed query is logged with its question and the full stack trace.

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import { definePlugin } from "../types.ts";

export interface DebugConfig {
  line: number;
}

export function parseDebug(ctx: BuildContext, d: Directive): DebugConfig {
  const r = new Reader(ctx, d, "debug");
  r.count(d.args, 0, 0, d.line);
  r.noBlock();
  return { line: d.line };
}

export const debugPlugin = definePlugin<DebugConfig>({
  name: "debug",
  repeatable: false,
  parse: parseDebug,
});
