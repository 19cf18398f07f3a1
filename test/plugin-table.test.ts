// The plugin table: every entry has its chain position in CHAIN_ORDER, is a known directive, and a
// block that uses none of them carries no table configuration (so its chain is built as before).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { KNOWN_DIRECTIVES, parseCorefile } from "../src/config/index.ts";
import { PLUGIN_TABLE, SETUP_DIRECTIVES } from "../src/plugins/index.ts";
import { CHAIN_ORDER } from "../src/server/index.ts";

test("each table entry has a chain position (or is a setup directive without a handler) and is known", () => {
  for (const plugin of PLUGIN_TABLE) {
    const setup = (SETUP_DIRECTIVES as readonly string[]).includes(plugin.name);
    assert.equal((CHAIN_ORDER as readonly string[]).includes(plugin.name), !setup, plugin.name);
    assert.equal(plugin.load !== undefined, !setup, plugin.name);
    assert.ok(KNOWN_DIRECTIVES.includes(plugin.name), plugin.name);
  }
});

test("CHAIN_ORDER follows CoreDNS's plugin.cfg for the plugins of issue 16", () => {
  const order = (names: string[]) => names.map((n) => CHAIN_ORDER.indexOf(n as (typeof CHAIN_ORDER)[number]));
  const positions = order(["metrics", "rewrite", "cache", "template", "hosts", "kubernetes", "forward"]);
  assert.deepEqual(
    [...positions].sort((a, b) => a - b),
    positions,
  );
  assert.ok(positions.every((p) => p >= 0));
});

test("a block without table directives carries no table configuration", () => {
  const stock = readFileSync(
    new URL("./fixtures/corefiles/nodelocaldns-stock.Corefile", import.meta.url),
    "utf8",
  )
    .replaceAll("__PILLAR__DNS__DOMAIN__", "cluster.local")
    .replaceAll(/__PILLAR__[A-Z_]+__/g, "10.0.0.10");
  const config = parseCorefile(stock, { file: "Corefile", readFile: () => "nameserver 192.0.2.53\n" });
  for (const block of config.blocks) assert.deepEqual(block.plugins, {});
});
