// Corefile structure: server blocks `KEY [KEY...] { directive args... [{ ... }] ... }`. A directive's
// arguments are the tokens on its own line; a sub-block opens with `{` on that same line. We also accept
// one-line blocks (`cache { success 9984 30 }`), which Caddy rejects for some directives.

import { ConfigError } from "../errors/index.ts";
import { type Env, isClose, isOpen, type Token, tokenize } from "./tokenizer.ts";

export interface Arg {
  text: string;
  line: number;
}

export interface Directive {
  name: string;
  args: Arg[];
  line: number;
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

export function parseSyntax(text: string, file: string, env: Env = {}): SyntaxBlock[] {
  const toks = tokenize(text, file, env);
  const p = new Parser(toks, file);
  return p.blocks();
}

class Parser {
  private i = 0;
  private readonly toks: Token[];
  private readonly file: string;

  constructor(toks: Token[], file: string) {
    this.toks = toks;
    this.file = file;
  }

  blocks(): SyntaxBlock[] {
    const out: SyntaxBlock[] = [];
    while (this.i < this.toks.length) out.push(this.serverBlock());
    return out;
  }

  private serverBlock(): SyntaxBlock {
    const first = this.toks[this.i]!;
    if (isClose(first)) throw syntaxError(this.file, first.line, 'unexpected "}" with no open block');
    if (isOpen(first)) {
      throw syntaxError(this.file, first.line, 'unexpected "{": a server block needs zone keys before "{"');
    }
    if (!first.quoted && (first.text === "import" || /^\(.*\)$/.test(first.text))) {
      throw syntaxError(
        this.file,
        first.line,
        `${first.text === "import" ? "import" : "snippets"} are not supported; write the blocks out in full`,
      );
    }
    const keys: Arg[] = [];
    let expectAnother = false;
    for (;;) {
      const t = this.toks[this.i]!;
      if (isOpen(t)) {
        if (expectAnother)
          throw syntaxError(this.file, t.line, 'expected another zone key after "," before "{"');
        break;
      }
      if (isClose(t)) throw syntaxError(this.file, t.line, 'unexpected "}" among the zone keys');
      // Caddy: keys may also be separated by commas; a trailing comma continues on the next line.
      const parts = t.text.split(",");
      expectAnother = t.text.endsWith(",");
      for (const part of parts) if (part !== "") keys.push({ text: part, line: t.line });
      this.i++;
      const next = this.toks[this.i];
      const what = keys.map((k) => k.text).join(" ");
      if (next === undefined) {
        throw syntaxError(
          this.file,
          t.endLine,
          `server block "${what}" has no body; expected "{" after the zone keys`,
        );
      }
      if (!expectAnother && next.line !== t.endLine) {
        throw syntaxError(
          this.file,
          t.endLine,
          `server block "${what}" has no body; expected "{" on the same line as the zone keys`,
        );
      }
    }
    const open = this.toks[this.i]!;
    this.i++;
    return { keys, line: first.line, directives: this.body(open) };
  }

  /** Directives up to the `}` matching `open` (already consumed). */
  private body(open: Token): Directive[] {
    const out: Directive[] = [];
    for (;;) {
      const t = this.toks[this.i];
      if (t === undefined) {
        throw syntaxError(
          this.file,
          open.line,
          `block opened with "{" at line ${open.line} is never closed; missing "}"`,
        );
      }
      if (isClose(t)) {
        this.i++;
        return out;
      }
      if (isOpen(t)) {
        throw syntaxError(
          this.file,
          t.line,
          'unexpected "{": a block must follow a directive on the same line',
        );
      }
      this.i++;
      const args: Arg[] = [];
      let last = t;
      for (;;) {
        const a = this.toks[this.i];
        if (a === undefined || a.line !== last.endLine || isOpen(a) || isClose(a)) break;
        args.push({ text: a.text, line: a.line });
        last = a;
        this.i++;
      }
      let block: Directive[] | null = null;
      const b = this.toks[this.i];
      if (isOpen(b) && b!.line === last.endLine) {
        this.i++;
        block = this.body(b!);
      }
      out.push({ name: t.text, args, line: t.line, block });
    }
  }
}
