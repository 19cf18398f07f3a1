// The plugin table: every entry has its chain position in CHAIN_ORDER, is a known directive, and a
// block that uses none of them carries no table configuration (so its chain is built as before).
// The daemon loads a plugin's handler code (and dns-packet, node:tls) only when its Corefile asks.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { KNOWN_DIRECTIVES, parseCorefile } from "../src/config/index.ts";
import { PLUGIN_TABLE, SETUP_DIRECTIVES } from "../src/plugins/index.ts";
import { CHAIN_ORDER } from "../src/server/index.ts";
import { cleanupAll, freePort, startDaemon, tempDir, uniqueLoopback } from "./support/index.ts";

after(cleanupAll);

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

/** The modules a daemon serving `corefile` resolved from start to SIGTERM (module-log.ts). */
async function modulesLoadedFor(
  corefile: (host: string, port: number, dir: string) => string,
): Promise<string[]> {
  const dir = await tempDir("nldns-lazy-");
  const log = join(dir, "modules");
  const host = uniqueLoopback();
  const port = await freePort(host);
  await writeFile(join(dir, "hosts"), "192.0.2.7 seven.test\n");
  const daemon = await startDaemon({
    corefile: corefile(host, port, dir),
    args: ["-workers", "1"],
    nodeArgs: ["--import", new URL("./support/module-log.ts", import.meta.url).pathname],
    env: { NLD_MODULE_LOG: log },
    readyProbe: { host, port },
  });
  await daemon.stop();
  return readFileSync(log, "utf8").split("\n");
}

// What a plain Corefile must not load, and what the plugins (and a tls:// upstream) do load.
const LAZY = [
  /\/plugins\/hosts\/handler\.[jt]s$/,
  /\/plugins\/rewrite\/handler\.[jt]s$/,
  /\/plugins\/template\/handler\.[jt]s$/,
  /\/plugins\/dns64\/handler\.[jt]s$/,
  /\/plugins\/whoami\/handler\.[jt]s$/,
  /\/node_modules\/dns-packet\//,
  /^node:tls$/,
];

test("a plain Corefile loads no plugin handler, no dns-packet, no node:tls; one that uses them does", async () => {
  const dead = `${uniqueLoopback()}:${await freePort()}`;
  const plain = await modulesLoadedFor(
    (host, port) => `.:${port} {\n  bind ${host}\n  cache 30\n  forward . ${dead}\n}\n`,
  );
  assert.ok(plain.some((m) => m.endsWith("/plugins/index.js") || m.endsWith("/plugins/index.ts")));
  assert.deepEqual(
    plain.filter((m) => LAZY.some((re) => re.test(m))),
    [],
  );

  const used = await modulesLoadedFor(
    (host, port, dir) => `.:${port} {
  bind ${host}
  hosts ${join(dir, "hosts")} {
    fallthrough
  }
  rewrite name exact a.test. b.test.
  template IN TXT t.test {
    answer "{{ .Name }} 60 IN TXT ok"
  }
  forward . tls://${dead}
}
who.test:${port} {
  bind ${host}
  whoami
}
v4.test:${port} {
  bind ${host}
  dns64
  forward . ${dead}
}
`,
  );
  for (const re of LAZY)
    assert.ok(
      used.some((m) => re.test(m)),
      String(re),
    );
});
