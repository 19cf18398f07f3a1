// The part of Go's text/template that CoreDNS template answers use: {{ pipeline }} actions (with
// {{- -}} trimming and {{/* comments */}}), field chains on the data (.Name, .Group.a, .Match),
// string and number literals, parenthesised pipelines, `|` pipes, and the functions index, len,
// printf, print, parseInt (CoreDNS's strconv.ParseUint), lower, upper. Control structures (if,
// range, with, variables) are refused when the template is compiled.

type Value = unknown;
type Expr =
  | { kind: "field"; path: string[] }
  | { kind: "literal"; value: Value }
  | { kind: "call"; fn: string; args: Expr[] }
  | { kind: "pipe"; commands: Expr[] };

type Node = { kind: "text"; text: string } | { kind: "action"; expr: Expr };

export class TemplateError extends Error {}

const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  index(coll, ...keys) {
    let v = coll;
    for (const k of keys) {
      if (Array.isArray(v)) {
        const i = Number(k);
        if (!Number.isInteger(i) || i < 0 || i >= v.length)
          throw new TemplateError(`index out of range: ${String(k)}`);
        v = v[i];
      } else if (v !== null && typeof v === "object") {
        v = (v as Record<string, Value>)[String(k)] ?? "";
      } else throw new TemplateError(`can't index item of type ${typeof v}`);
    }
    return v;
  },
  len: (v) => (Array.isArray(v) || typeof v === "string" ? v.length : Object.keys(v as object).length),
  print: (...args) => args.map(show).join(""),
  printf: (format, ...args) => sprintf(String(format), args),
  parseInt(s, base, bits) {
    const text = String(s);
    const b = Number(base);
    const digits = b === 16 ? /^[0-9a-f]+$/i : b === 8 ? /^[0-7]+$/ : b === 2 ? /^[01]+$/ : /^[0-9]+$/;
    if (!digits.test(text)) throw new TemplateError(`strconv.ParseUint: parsing "${text}": invalid syntax`);
    const n = Number.parseInt(text, b);
    if (n >= 2 ** Number(bits))
      throw new TemplateError(`strconv.ParseUint: parsing "${text}": value out of range`);
    return n;
  },
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
};

const REFUSED = new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
]);

export class GoTemplate {
  readonly source: string;
  private readonly nodes: Node[];

  constructor(source: string) {
    this.source = source;
    this.nodes = parse(source);
  }

  execute(data: Value): string {
    let out = "";
    for (const node of this.nodes) out += node.kind === "text" ? node.text : show(evaluate(node.expr, data));
    return out;
  }
}

/** As Go prints values in templates: missing ones as "<no value>". */
function show(v: Value): string {
  if (v === undefined || v === null) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  return String(v);
}

function evaluate(e: Expr, data: Value, piped?: Value[]): Value {
  switch (e.kind) {
    case "literal":
      return e.value;
    case "field": {
      let v: Value = data;
      for (const key of e.path) {
        if (v === null || typeof v !== "object")
          throw new TemplateError(`can't evaluate field ${key} in type ${typeof v}`);
        v = (v as Record<string, Value>)[key];
      }
      return v;
    }
    case "call":
      return FUNCTIONS[e.fn]!(...e.args.map((a) => evaluate(a, data)), ...(piped ?? []));
    case "pipe": {
      let v: Value;
      e.commands.forEach((c, i) => {
        if (i === 0) v = evaluate(c, data);
        else if (c.kind === "call") v = evaluate(c, data, [v]);
        else throw new TemplateError("only a function can follow |");
      });
      return v;
    }
  }
}

function parse(source: string): Node[] {
  const nodes: Node[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf("{{", i);
    if (open === -1) {
      nodes.push({ kind: "text", text: source.slice(i) });
      break;
    }
    const close = source.indexOf("}}", open + 2);
    if (close === -1) throw new TemplateError(`unclosed action in "${source}"`);
    let text = source.slice(i, open);
    let inner = source.slice(open + 2, close);
    if (/^-\s/.test(inner)) {
      text = text.trimEnd();
      inner = inner.slice(1);
    }
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      while (next < source.length && /\s/.test(source[next]!)) next++;
    }
    if (text !== "") nodes.push({ kind: "text", text });
    const trimmed = inner.trim();
    if (!(trimmed.startsWith("/*") && trimmed.endsWith("*/"))) {
      nodes.push({ kind: "action", expr: parsePipeline(tokenize(trimmed), trimmed) });
    }
    i = next;
  }
  return nodes;
}

function tokenize(s: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||[^\s()|]+)/gy;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) out.push(m[1]!);
  if (out.join("").replace(/\s/g, "") !== s.replace(/\s/g, "")) throw new TemplateError(`cannot read "${s}"`);
  return out;
}

function parsePipeline(tokens: string[], text: string): Expr {
  let pos = 0;
  const pipeline = (): Expr => {
    const commands: Expr[] = [command()];
    while (tokens[pos] === "|") {
      pos++;
      commands.push(command());
    }
    return commands.length === 1 ? commands[0]! : { kind: "pipe", commands };
  };
  const command = (): Expr => {
    const head = tokens[pos];
    if (head === undefined) throw new TemplateError(`missing value in "{{${text}}}"`);
    if (head in FUNCTIONS) {
      pos++;
      const args: Expr[] = [];
      while (pos < tokens.length && tokens[pos] !== "|" && tokens[pos] !== ")") args.push(operand());
      return { kind: "call", fn: head, args };
    }
    const value = operand();
    if (pos < tokens.length && tokens[pos] !== "|" && tokens[pos] !== ")")
      throw new TemplateError(`can't give argument to non-function in "{{${text}}}"`);
    return value;
  };
  const operand = (): Expr => {
    const t = tokens[pos++]!;
    if (t === "(") {
      const inner = pipeline();
      if (tokens[pos++] !== ")") throw new TemplateError(`unclosed "(" in "{{${text}}}"`);
      return inner;
    }
    if (t === "." || t === "$") return { kind: "field", path: [] };
    if (/^(\$)?(\.[A-Za-z_]\w*)+$/.test(t))
      return { kind: "field", path: t.replace(/^\$/, "").split(".").slice(1) };
    if (t.startsWith('"')) return { kind: "literal", value: JSON.parse(t) as string };
    if (t.startsWith("`")) return { kind: "literal", value: t.slice(1, -1) };
    if (/^-?\d+$/.test(t)) return { kind: "literal", value: Number(t) };
    if (t === "true" || t === "false") return { kind: "literal", value: t === "true" };
    if (REFUSED.has(t) || t.startsWith("$"))
      throw new TemplateError(`"${t}" (control structures and variables) is not supported in "{{${text}}}"`);
    throw new TemplateError(`function "${t}" not defined`);
  };
  const expr = pipeline();
  if (pos !== tokens.length) throw new TemplateError(`unexpected "${tokens[pos]}" in "{{${text}}}"`);
  return expr;
}

/** Go's fmt verbs people use in RR templates: %s %v %d %x %X %o %q %%, with width and 0-padding. */
function sprintf(format: string, args: Value[]): string {
  let n = 0;
  return format.replace(/%([0-]?)(\d*)([svdxXoq%])/g, (_m, flag: string, width: string, verb: string) => {
    if (verb === "%") return "%";
    const v = args[n++];
    let s: string;
    if (verb === "d") s = String(Math.trunc(Number(v)));
    else if (verb === "x" || verb === "X" || verb === "o") {
      s = typeof v === "number" ? v.toString(verb === "o" ? 8 : 16) : Buffer.from(String(v)).toString("hex");
      if (verb === "X") s = s.toUpperCase();
    } else if (verb === "q") s = JSON.stringify(String(v));
    else s = show(v);
    const w = Number(width || 0);
    if (s.length >= w) return s;
    return flag === "-" ? s.padEnd(w) : s.padStart(w, flag === "0" ? "0" : " ");
  });
}
