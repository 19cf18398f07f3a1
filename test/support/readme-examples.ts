// The README's Corefile examples, run as written: the ```corefile block under a heading, with its
// port (1053), its upstream (127.0.0.1:5300) and its files replaced by the test's own.

import { readFileSync } from "node:fs";
import { PROJECT_ROOT } from "./daemon.ts";

const README = readFileSync(`${PROJECT_ROOT}/README.md`, "utf8");

/** The `index`-th Corefile example in the README section whose heading starts with `heading`. */
export function readmeExample(heading: string, index = 0): string {
  const start = README.indexOf(`\n### ${heading}`);
  if (start === -1) throw new Error(`README has no section "### ${heading}"`);
  const next = README.slice(start + 5).search(/\n#{2,3} /);
  const section = README.slice(start, next === -1 ? undefined : start + 5 + next);
  const blocks = [...section.matchAll(/```corefile\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const text = blocks[index];
  if (text === undefined) throw new Error(`README section "${heading}" has no example ${index + 1}`);
  return text;
}

export interface ExampleSetup {
  host: string;
  port: number;
  upstream?: { host: string; port: number };
  /** Other literal replacements (e.g. a file path). */
  replace?: Record<string, string>;
}

/** The example bound to the test's address and port, forwarding to the test's upstream. */
export function localized(text: string, s: ExampleSetup): string {
  // Every key's port, and a bind line opening each server block (a line at column 0 ending in "{").
  let out = text.replace(/:1053\b/g, `:${s.port}`).replace(/^(\S.*\{)$/gm, `$1\n    bind ${s.host}`);
  if (s.upstream) out = out.replaceAll("127.0.0.1:5300", `${s.upstream.host}:${s.upstream.port}`);
  for (const [from, to] of Object.entries(s.replace ?? {})) out = out.replaceAll(from, to);
  return out;
}
