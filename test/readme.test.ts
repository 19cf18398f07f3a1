// Every Corefile example in the README parses, and every flag in the CLI is documented there.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { FLAG_SPECS } from "../src/cli/index.ts";
import { KNOWN_DIRECTIVES, parseCorefile } from "../src/config/index.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const examples = [...readme.matchAll(/```corefile\n([\s\S]*?)```/g)].map((m) => m[1]!);

test("the README has Corefile examples", () => {
  assert.ok(examples.length >= 5, `found ${examples.length}`);
});

for (const [i, text] of examples.entries()) {
  test(`README Corefile example ${i + 1} parses`, () => {
    const config = parseCorefile(text, {
      file: `README.md example ${i + 1}`,
      env: {},
      readFile: () => "nameserver 192.0.2.53\n",
    });
    assert.ok(config.blocks.length >= 1);
  });
}

test("every flag and directive is documented", () => {
  for (const spec of FLAG_SPECS) assert.ok(readme.includes(`\`-${spec.name}\``), `flag -${spec.name}`);
  for (const name of KNOWN_DIRECTIVES) assert.ok(readme.includes(`\`${name}`), `directive ${name}`);
});
