// `import` as CoreDNS's Caddyfile parser does it: `import NAME` replays the tokens of a snippet
// `(NAME) { ... }` defined earlier; otherwise NAME is a file or a glob with at most one wildcard,
// relative to the importing file, whose tokens are spliced in. Imports work where a server block or
// a directive may start. Tokens keep their own file and line, so messages name the imported file.

import { globSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { ConfigError } from "../errors/index.ts";
import { type Env, type Token, tokenize } from "./tokenizer.ts";

/** CoreDNS's caps: an import cycle ends in an error, not a hang. */
const MAX_SNIPPET_EXPANSIONS = 10_000;
const MAX_FILE_EXPANSIONS = 1000; // CoreDNS: 100000; a cycle is found in a blink at 1000

export interface ImportIo {
  readFile: (path: string) => string;
  env: Env;
}

export class Importer {
  private readonly snippets = new Map<string, Token[]>();
  private snippetExpansions = 0;
  private fileExpansions = 0;
  private origins = 0;
  private readonly io: ImportIo;

  constructor(io: ImportIo) {
    this.io = io;
  }

  define(name: string, body: Token[], at: Token): void {
    if (this.snippets.has(name)) throw syntax(at, `redeclaration of previously declared snippet ${name}`);
    this.snippets.set(name, body);
  }

  /**
   * The tokens that replace `import PATTERN` (`tokens[i]` is the `import`); every token of the
   * import line is consumed. Returns the replacement and how many tokens it replaces.
   */
  expand(tokens: Token[], i: number): { replacement: Token[]; consumed: number } {
    const at = tokens[i]!;
    const arg = tokens[i + 1];
    if (arg === undefined || !sameLine(arg, at) || arg.text === "{" || arg.text === "}")
      throw syntax(at, "import needs one argument: a snippet name, a file or a glob pattern");
    const extra = tokens[i + 2];
    if (extra !== undefined && sameLine(extra, arg))
      throw syntax(extra, "import takes only one argument (a snippet name, a file or a glob pattern)");
    const pattern = arg.text;
    if (pattern === "") throw syntax(arg, "import requires a non-empty file path or snippet name");
    // Each replay is a fresh origin, so two imports in a row never read as one line.
    const origin = ++this.origins;
    const snippet = this.snippets.get(pattern);
    if (snippet !== undefined) {
      if (++this.snippetExpansions > MAX_SNIPPET_EXPANSIONS)
        throw syntax(at, `maximum snippet import depth (${MAX_SNIPPET_EXPANSIONS}) exceeded`);
      return { replacement: snippet.map((t) => ({ ...t, origin })), consumed: 2 };
    }
    if (++this.fileExpansions > MAX_FILE_EXPANSIONS)
      throw syntax(at, `maximum file import depth (${MAX_FILE_EXPANSIONS}) exceeded`);
    return { replacement: this.files(pattern, arg), consumed: 2 };
  }

  private files(pattern: string, arg: Token): Token[] {
    const full = isAbsolute(pattern) ? pattern : join(dirname(resolve(arg.file)), pattern);
    const wild = /[*?[\]]/.test(full);
    if ((full.match(/\*/g)?.length ?? 0) > 1 || (full.match(/\?/g)?.length ?? 0) > 1 || /\[.*\]/.test(full))
      throw syntax(arg, `glob pattern may only contain one wildcard (*), but has others: ${full}`);
    const matches = wild ? globSync(full).sort() : [full];
    if (!wild && !exists(full)) throw syntax(arg, `file to import not found: ${pattern}`);
    const out: Token[] = [];
    for (const path of matches) {
      if (statSync(path).isDirectory()) throw syntax(arg, `could not import ${path}: is a directory`);
      let text: string;
      try {
        text = this.io.readFile(path);
      } catch (error) {
        throw syntax(arg, `could not import ${path}: ${(error as Error).message}`);
      }
      const origin = ++this.origins;
      for (const t of tokenize(text, path, this.io.env)) out.push({ ...t, origin });
    }
    return out;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `b` follows `a` on the same line of the same text (and the same replay). */
export function sameLine(b: Token, a: Token): boolean {
  return b.line === a.endLine && b.origin === a.origin && b.file === a.file;
}

function syntax(t: Token, msg: string): ConfigError {
  return new ConfigError(t.file, t.line, msg, "CONFIG_SYNTAX");
}
