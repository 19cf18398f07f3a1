// Corefile structure: server blocks `KEY [KEY...] { directive args... [{ ... }] ... }`. A directive's
// arguments are the tokens on its own line; a sub-block opens with `{` on that same line. We also accept
// one-line blocks (`cache { success 9984 30 }`), which Caddy rejects for some directives.

import { readFileSync } from "node:fs";
import { ConfigError } from "../errors/index.ts";
import { Importer, sameLine } from "./imports.ts";
import { type Env, isClose, isOpen, type Token, tokenize } from "./tokenizer.ts";

export interface Arg {
  text: string;
  line: number;
}

export interface Directive {
  name: string;
  args: Arg[];
  line: number;
  /** The file the directive was read from (an imported file's path, else the Corefile's name). */
  file: string;
  /** Sub-directives of a `{ ... }` block; null when there is no block. */
  block: Directive[] | null;
}

export interface SyntaxBlock {
  keys: Arg[];
  line: number;
  directives: Directive[];
}

const syntaxError = (file: string, line: number, msg: string): ConfigError =>
  new ConfigError(file, line, msg, "CONFIG_SYNTAX");

/** A file's text from the file system (imports, and resolv.conf files unless a test says otherwise). */
export const fsRead = (path: string): string => readFileSync(path, "utf8");

/** Corefile text -> server blocks, with `import` of snippets and files expanded. */
export function parseSyntax(text: string, file: string, env: Env = {}): SyntaxBlock[] {
  const toks = tokenize(text, file, env);
  const p = new Parser(toks, new Importer({ readFile: fsRead, env }));
  return p.blocks();
}

const isImport = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === "import";

class Parser {
  private i = 0;
  private toks: Token[];
  private readonly importer: Importer;

  constructor(toks: Token[], importer: Importer) {
    this.toks = toks;
    this.importer = importer;
  }

  blocks(): SyntaxBlock[] {
    const out: SyntaxBlock[] = [];
    while (this.i < this.toks.length) {
      if (isImport(this.toks[this.i])) {
        this.splice();
        continue;
      }
      const block = this.serverBlock();
      if (block !== null) out.push(block);
    }
    return out;
  }

  /** Replace the `import` line at the cursor by what it imports. */
  private splice(): void {
    const { replacement, consumed } = this.importer.expand(this.toks, this.i);
    this.toks = [...this.toks.slice(0, this.i), ...replacement, ...this.toks.slice(this.i + consumed)];
  }

  /** A server block, or null for a snippet definition `(NAME) { ... }` (stored for imports). */
  private serverBlock(): SyntaxBlock | null {
    const first = this.toks[this.i]!;
    if (isClose(first)) throw syntaxError(first.file, first.line, 'unexpected "}" with no open block');
    if (isOpen(first)) {
      throw syntaxError(first.file, first.line, 'unexpected "{": a server block needs zone keys before "{"');
    }
    const snippet = !first.quoted && /^\(.*\)$/.test(first.text) ? first.text.slice(1, -1) : null;
    if (snippet !== null && isOpen(this.toks[this.i + 1]) && sameLine(this.toks[this.i + 1]!, first)) {
      this.i += 2;
      this.importer.define(snippet, this.snippetBody(first), first);
      return null;
    }
    const keys: Arg[] = [];
    let expectAnother = false;
    for (;;) {
      const t = this.toks[this.i]!;
      if (isOpen(t)) {
        if (expectAnother)
          throw syntaxError(t.file, t.line, 'expected another zone key after "," before "{"');
        break;
      }
      if (isClose(t)) throw syntaxError(t.file, t.line, 'unexpected "}" among the zone keys');
      // Caddy: keys may also be separated by commas; a trailing comma continues on the next line.
      const parts = t.text.split(",");
      expectAnother = t.text.endsWith(",");
      for (const part of parts) if (part !== "") keys.push({ text: part, line: t.line });
      this.i++;
      const next = this.toks[this.i];
      const what = keys.map((k) => k.text).join(" ");
      if (next === undefined) {
        throw syntaxError(
          t.file,
          t.endLine,
          `server block "${what}" has no body; expected "{" after the zone keys`,
        );
      }
      if (!expectAnother && !sameLine(next, t)) {
        throw syntaxError(
          t.file,
          t.endLine,
          `server block "${what}" has no body; expected "{" on the same line as the zone keys`,
        );
      }
    }
    const open = this.toks[this.i]!;
    this.i++;
    return { keys, line: first.line, directives: this.body(open, true) };
  }

  /** The tokens of a snippet up to the `}` matching its `{` (consumed), nested blocks included. */
  private snippetBody(at: Token): Token[] {
    const start = this.i;
    let depth = 1;
    for (; this.i < this.toks.length; this.i++) {
      const t = this.toks[this.i]!;
      if (isOpen(t)) depth++;
      else if (isClose(t) && --depth === 0) {
        this.i++;
        return this.toks.slice(start, this.i - 1);
      }
    }
    throw syntaxError(at.file, at.line, `snippet ${at.text} is never closed; missing "}"`);
  }

  /**
   * Directives up to the `}` matching `open` (already consumed). `imports`: a server block's own
   * level, where `import` lines are expanded (as CoreDNS: not inside a directive's block).
   */
  private body(open: Token, imports = false): Directive[] {
    const out: Directive[] = [];
    for (;;) {
      const t = this.toks[this.i];
      if (t === undefined) {
        throw syntaxError(
          open.file,
          open.line,
          `block opened with "{" at line ${open.line} is never closed; missing "}"`,
        );
      }
      if (isClose(t)) {
        this.i++;
        return out;
      }
      if (isOpen(t)) {
        throw syntaxError(t.file, t.line, 'unexpected "{": a block must follow a directive on the same line');
      }
      if (imports && isImport(t)) {
        this.splice();
        continue;
      }
      this.i++;
      const args: Arg[] = [];
      let last = t;
      for (;;) {
        const a = this.toks[this.i];
        if (a === undefined || !sameLine(a, last) || isOpen(a) || isClose(a)) break;
        args.push({ text: a.text, line: a.line });
        last = a;
        this.i++;
      }
      let block: Directive[] | null = null;
      const b = this.toks[this.i];
      if (isOpen(b) && sameLine(b!, last)) {
        this.i++;
        block = this.body(b!);
      }
      out.push({ name: t.text, args, line: t.line, file: t.file, block });
    }
  }
}
