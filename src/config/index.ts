// The config module's face: Corefile text -> validated, deeply frozen Config; resolv.conf reader.

import { buildConfig } from "./build.ts";
import { fsRead, parseSyntax } from "./parser.ts";
import type { Env } from "./tokenizer.ts";
import type { Config } from "./types.ts";

export { KNOWN_DIRECTIVES } from "./build.ts";
export { CACHE_DEFAULTS } from "./dir-cache.ts";
export { FORWARD_DEFAULTS, MAX_UPSTREAMS } from "./dir-forward.ts";
export { KUBERNETES_DEFAULTS } from "./dir-kubernetes.ts";
export type { Arg, Directive, SyntaxBlock } from "./parser.ts";
export { parseSyntax } from "./parser.ts";
export { parseResolvConf, type ResolvConf } from "./resolvconf.ts";
export { type Env, type Token, tokenize } from "./tokenizer.ts";
export type * from "./types.ts";
export { parseDuration } from "./values.ts";

export interface ParseOptions {
  /** Name used in messages ("Corefile", "/etc/Corefile"). */
  file: string;
  /** Values for {$NAME} references; default: none (every reference becomes "" or its default). */
  env?: Env;
  /** Reads resolv.conf files named by forward/autopath; default: the real file system. */
  readFile?: (path: string) => string;
  /** Port of server block keys written without one (CoreDNS's -dns.port); default 53. */
  defaultPort?: number;
}

/** Parse and validate a Corefile; throws ConfigError (file:line: what and what is allowed). */
export function parseCorefile(text: string, opts: ParseOptions): Config {
  const blocks = parseSyntax(text, opts.file, opts.env ?? {});
  return deepFreeze(buildConfig(blocks, opts.file, opts.readFile ?? fsRead, opts.defaultPort ?? 53));
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
