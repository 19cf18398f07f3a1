// scripts/preflight.mjs, the first step of `npm test`: a wrong runtime or a missing Debian tool
// stops the run at once with what to do. (Its root-on-Debian install path runs apt-get, so it is
// tried by hand with a package that is not installed, not here.)

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT, tempDir } from "./support/index.ts";

const PREFLIGHT = join(PROJECT_ROOT, "scripts", "preflight.mjs");
const isRoot = process.getuid?.() === 0;

/** Runs the preflight as an unprivileged user (nobody when we are root), so it may not install. */
function preflightAsUser(node: string, ...args: string[]) {
  const argv = isRoot
    ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", node, PREFLIGHT, ...args]
    : [node, PREFLIGHT, ...args];
  const started = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", cwd: PROJECT_ROOT, timeout: 30_000 });
  return { ...r, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function list(text: string): Promise<string> {
  const dir = await tempDir("nldns-preflight-");
  chmodSync(dir, 0o755); // readable by the unprivileged user the preflight runs as
  const file = join(dir, "deps");
  writeFileSync(file, text);
  return file;
}

test("preflight: every listed program present -> exit 0, silent", async () => {
  const r = preflightAsUser(
    process.execPath,
    await list("# comment\niproute2 ip\n\nsh-pkg   sh  # trailing\n"),
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "");
});

test("preflight: a missing program, not allowed to install -> exit 1 at once with the apt-get line", async () => {
  const file = await list("iproute2 ip\nnld-absent-pkg nld-absent-cmd\nnld-other nld-other-cmd\n");
  const r = preflightAsUser(process.execPath, file);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "", "it installs nothing");
  assert.match(r.stderr, /missing: nld-absent-cmd \(nld-absent-pkg\), nld-other-cmd \(nld-other\)/);
  assert.ok(
    r.stderr.includes(
      "\n  apt-get update && apt-get install -y --no-install-recommends nld-absent-pkg nld-other\n",
    ),
    r.stderr,
  );
  // No apt-get update, no network: a process start and a few file checks (margin for a busy node).
  assert.ok(r.seconds < 5, `took ${r.seconds} s`);
});

test("preflight: a malformed list line names the file and the line", async () => {
  const file = await list("unbound\n");
  const r = preflightAsUser(process.execPath, file);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `preflight: ${file}: expected "PACKAGE COMMAND", got "unbound"`);
});

test("preflight: the shipped lists are well formed and name the tools the tests drive", () => {
  for (const name of ["test-deps", "image-test-deps"]) {
    const r = preflightAsUser(process.execPath, join(PROJECT_ROOT, "scripts", name), "/dev/null");
    assert.ok(r.status === 0 || /missing/.test(r.stderr), r.stderr);
  }
  const pkgs = readFileSync(join(PROJECT_ROOT, "scripts", "test-deps"), "utf8")
    .split("\n")
    .filter((l) => /^[a-z]/.test(l))
    .map((l) => l.split(/\s+/)[0]);
  for (const p of ["unbound", "dnsmasq-base", "knot-dnsutils", "bind9-dnsutils", "dnsperf", "conntrack"]) {
    assert.ok(pkgs.includes(p), p);
  }
});

test("preflight: a runtime other than Node 24 fails loudly", (t) => {
  const system = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
  if (system.status !== 0 || system.stdout.startsWith("v24.")) {
    t.skip("no non-24 Node at /usr/bin/node to try");
    return;
  }
  const r = preflightAsUser("/usr/bin/node", "/dev/null");
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`runs on Node 24, not Node ${system.stdout.trim().slice(1)}`));
});
