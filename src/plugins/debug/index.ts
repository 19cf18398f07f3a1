// `debug` (CoreDNS): there it stops recovering from panics and turns on debug messages. Here a
// failed query is always caught and answered SERVFAIL (a crash would drop every other query), so
// the nearest useful thing is the verbose side: while any block has `debug`, the log level is
// `debug` and each failed query is logged with its question and the full stack trace.

import { type BareConfig, parseBare } from "../bare.ts";
import { definePlugin } from "../types.ts";

export type DebugConfig = BareConfig;

export const debugPlugin = definePlugin<DebugConfig>({
  name: "debug",
  repeatable: false,
  parse: parseBare,
});
