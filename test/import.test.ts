// `import` of snippets and files (with globs), as CoreDNS's Caddyfile parser does it.

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseCorefile } from "../src/config/index.ts";
import { ConfigError } from "../src/errors/index.ts";

const dir = mkdtempSync(join(tmpdir(), "nldns-import-"));
const corefile = join(dir, "Corefile");

function parse(text: string) {
  writeFileSync(corefile, text);
  return parseCorefile(text, { file: corefile, readFile: () => "nameserver 192.0.2.53\n" });
}

function failure(text: string): ConfigError {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("expected a ConfigError");
}

describe("import", () => {
  test("a snippet's directives are replayed where it is imported, in every block", () => {
    const config = parse(`(common) {
    cache 30
    errors
}
a.example:1053 {
    import common
    forward . 192.0.2.1
}
b.example:1053 {
    forward . 192.0.2.2
    import common
}
`);
    assert.equal(config.blocks.length, 2, "the snippet is no server block");
    for (const b of config.blocks) {
      assert.equal(b.cache?.success.maxTtl, 30);
      assert.notEqual(b.errors, null);
      assert.notEqual(b.forward, null);
    }
  });

  test("two imports of one snippet in a row stay two directives", () => {
    const config = parse(`(h) {
    hosts {
        192.0.2.9 x.example
    }
}
(r) {
    rewrite name exact a.example b.example
}
.:1053 {
    import r
    import r
    import h
}
`);
    assert.equal(config.blocks[0]!.plugins.rewrite?.length, 2);
    assert.equal(config.blocks[0]!.plugins.hosts?.length, 1);
  });

  test("files and globs relative to the Corefile; top-level imports bring server blocks", () => {
    writeFileSync(join(dir, "zones-a.conf"), "a.example:1053 {\n    forward . 192.0.2.1\n}\n");
    writeFileSync(join(dir, "zones-b.conf"), "b.example:1053 {\n    forward . 192.0.2.2\n}\n");
    writeFileSync(join(dir, "extra.part"), "cache 10\n");
    const config = parse(`import zones-*.conf
.:1053 {
    import extra.part
    forward . 192.0.2.3
}
`);
    assert.deepEqual(
      config.blocks.map((b) => b.zones[0]),
      ["a.example.", "b.example.", "."],
    );
    assert.equal(config.blocks[2]!.cache?.success.maxTtl, 10);
    // No match for a glob is fine (CoreDNS warns); a missing plain file is an error.
    assert.equal(parse("import nothing-*.conf\n.:1053 {\n    cache\n}\n").blocks.length, 1);
    const missing = failure(".:1053 {\n    import missing.conf\n}\n");
    assert.equal(missing.line, 2);
    assert.match(missing.message, /file to import not found: missing\.conf/);
  });

  test("a bad line in an imported file is reported with that file and its line", () => {
    writeFileSync(join(dir, "bad.part"), "cache 30\n\nforward . not-an-address\n");
    const error = failure(".:1053 {\n    import bad.part\n}\n");
    assert.equal(error.file, join(dir, "bad.part"));
    assert.equal(error.line, 3);
  });

  test("cycles and bad patterns stop with a message", () => {
    writeFileSync(join(dir, "loop.part"), "import loop.part\n");
    assert.match(failure(".:1053 {\n    import loop.part\n}\n").message, /maximum file import depth/);
    assert.match(failure("(s) {\n    import s\n}\n.:1053 {\n    import s\n}\n").message, /maximum snippet/);
    assert.match(failure(".:1053 {\n    import a*b*\n}\n").message, /may only contain one wildcard/);
    assert.match(failure(".:1053 {\n    import\n}\n").message, /import needs one argument/);
    assert.match(failure(".:1053 {\n    import a b\n}\n").message, /only one argument/);
    assert.match(failure("(s) {\n}\n(s) {\n}\n").message, /redeclaration of previously declared snippet s/);
  });
});
