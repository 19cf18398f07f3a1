// Parsing of a directive that takes no arguments and no block (`whoami`, `debug`).

import { type BuildContext, type Directive, Reader } from "../config/for-plugins.ts";

export interface BareConfig {
  line: number;
}

export function parseBare(ctx: BuildContext, d: Directive): BareConfig {
  const r = new Reader(ctx, d, d.name);
  r.count(d.args, 0, 0, d.line);
  r.noBlock();
  return { line: d.line };
}
