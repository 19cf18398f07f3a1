// Preloaded with `--import` into a daemon under test: appends every module the process resolves
// (import, import(), require, built-ins too) to $NLD_MODULE_LOG on exit, one URL per line, so a test
// can tell which code a configuration made the daemon load.

import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const out = process.env.NLD_MODULE_LOG;
if (out) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      seen.add(resolved.url);
      return resolved;
    },
  });
  process.on("exit", () => appendFileSync(out, `${[...seen].join("\n")}\n`));
}
