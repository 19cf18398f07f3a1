// Corefile lexer with the rules of CoreDNS's Caddyfile lexer: whitespace separates tokens, `#` starts a
// comment to the end of the line, "..." quotes a token (only \" is an escape; other backslashes stay),
// quoted tokens may span lines. `{` and `}` are structural only when they stand alone and unquoted.

import { ConfigError } from "../errors/index.ts";

export interface Token {
  text: string;
  /** Line the token starts on (1-based). */
  line: number;
  /** Line the token ends on (differs from `line` only for quoted tokens spanning lines). */
  endLine: number;
  quoted: boolean;
  /** The file the token was read from (an imported file's own path). */
  file: string;
  /** Which reading of the text: every import replay gets its own, so lines never merge across them. */
  origin: number;
}

export type Env = Record<string, string | undefined>;

export function isOpen(t: Token | undefined): boolean {
  return t !== undefined && !t.quoted && t.text === "{";
}

export function isClose(t: Token | undefined): boolean {
  return t !== undefined && !t.quoted && t.text === "}";
}

export function tokenize(text: string, file: string, env: Env = {}): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === "\n") {
      line++;
      i++;
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\f" || ch === "\v") {
      i++;
      continue;
    }
    if (ch === "#") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (ch === '"') {
      const start = line;
      let val = "";
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i]!;
        if (c === "\\" && text[i + 1] === '"') {
          val += '"';
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === "\n") line++;
        val += c;
        i++;
      }
      if (!closed) {
        throw new ConfigError(
          file,
          start,
          "unterminated quoted string: missing closing '\"'",
          "CONFIG_SYNTAX",
        );
      }
      tokens.push({
        text: substituteEnv(val, env, file, start),
        line: start,
        endLine: line,
        quoted: true,
        file,
        origin: 0,
      });
      continue;
    }
    let val = "";
    // A bare word ends at whitespace or a comment (Caddy: `#` inside a word starts a comment too).
    while (i < n) {
      const c = text[i]!;
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v" || c === "#") break;
      val += c;
      i++;
    }
    if (val === "{}") {
      // An empty block written without a space; Caddy would read one word, we read both braces.
      tokens.push(
        { text: "{", line, endLine: line, quoted: false, file, origin: 0 },
        { text: "}", line, endLine: line, quoted: false, file, origin: 0 },
      );
      continue;
    }
    const structural = val === "{" || val === "}";
    tokens.push({
      text: structural ? val : substituteEnv(val, env, file, line),
      line,
      endLine: line,
      quoted: false,
      file,
      origin: 0,
    });
  }
  return tokens;
}

const ENV_REF = /\{\$([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;

/** `{$NAME}` and `{$NAME:default}`; an unset or empty variable without default becomes "" (as Caddy). */
export function substituteEnv(s: string, env: Env, file: string, line: number): string {
  if (!s.includes("{$")) return s;
  const out = s.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== "") return v;
    return def ?? "";
  });
  if (/\{\$(?![A-Za-z_][A-Za-z0-9_]*(?::[^}]*)?\})/.test(s)) {
    throw new ConfigError(
      file,
      line,
      `malformed environment reference in "${s}"; expected {$NAME} or {$NAME:default}`,
      "CONFIG_SYNTAX",
    );
  }
  return out;
}
