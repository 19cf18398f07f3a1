// Before the tests: the runtime must be the project's Node 24, and the Debian tools the tests drive
// must be present. As root on Debian the missing packages are installed (one line says which);
// otherwise it stops at once with the apt-get line to run.
// Usage: node scripts/preflight.mjs LIST...   (LIST: lines of "PACKAGE COMMAND", e.g. scripts/test-deps)
// Plain JavaScript that Node 20 also runs, so that a wrong runtime gets a clear message.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";

const PINNED_NODE_MAJOR = 24;

/** Fails unless this process runs on Node 24 (the `node` dev dependency's binary). */
export function requireNode24() {
  const running = process.versions.node;
  if (Number(running.split(".")[0]) === PINNED_NODE_MAJOR) return;
  const why = existsSync("node_modules/node/bin/node")
    ? "run the tests through npm (`npm test`), which puts node_modules/.bin first on PATH, " +
      "or with node_modules/.bin/node"
    : "the `node` dev dependency has no binary: npm did not run its install script. package.json's " +
      '`allowScripts` must allow it ("node": true, see `npm approve-scripts node`); then run `npm ci` again';
  fail(
    `preflight: this project runs on Node ${PINNED_NODE_MAJOR}, not Node ${running} (${process.execPath}): ${why}`,
  );
}

/** Parses lists of "PACKAGE COMMAND" lines ('#' starts a comment). */
export function readDeps(files) {
  const deps = [];
  for (const file of files) {
    for (const raw of readFileSync(file, "utf8").split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") continue;
      const [pkg, command, extra] = line.split(/\s+/);
      if (!command || extra) fail(`preflight: ${file}: expected "PACKAGE COMMAND", got "${line}"`);
      deps.push({ pkg, command });
    }
  }
  return deps;
}

/** Whether COMMAND is an executable in PATH or in the sbin directories root's PATH has. */
export function hasCommand(command, path = process.env.PATH ?? "") {
  const dirs = [...path.split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  return dirs.some((dir) => {
    if (dir === "") return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function aptInstallLine(packages) {
  return `apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

function canInstall() {
  return process.getuid?.() === 0 && existsSync("/etc/debian_version") && hasCommand("apt-get");
}

function run(argv, env) {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", env });
  if (result.status !== 0) {
    fail(
      `preflight: \`${argv.join(" ")}\` failed (${result.error?.message ?? `exit ${result.status}`}):\n` +
        `${result.stdout ?? ""}${result.stderr ?? ""}`,
    );
  }
}

// The packages are installed for their programs: a policy-rc.d that denies every start keeps
// their services (unbound, dnsmasq, prometheus) from starting on this machine.
const POLICY_RC_D = "/usr/sbin/policy-rc.d";

function installPackages(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  console.log(
    `preflight: installing the Debian packages the tests need: apt-get update && ${aptInstallLine(packages)}`,
  );
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) writeFileSync(POLICY_RC_D, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    run(["apt-get", "update", "-qq"], env);
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages], env);
  } finally {
    if (ownPolicy) unlinkSync(POLICY_RC_D);
  }
}

function main(lists) {
  requireNode24();
  if (lists.length === 0) fail("usage: node scripts/preflight.mjs LIST...");
  const missingDeps = () => readDeps(lists).filter((d) => !hasCommand(d.command));
  const missing = missingDeps();
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((d) => d.pkg))];
  if (!canInstall()) {
    const programs = missing.map((d) => `${d.command} (${d.pkg})`).join(", ");
    fail(
      `preflight: the tests need programs that are missing: ${programs}. Install them as root ` +
        `(Debian package names):\n  apt-get update && ${aptInstallLine(packages)}`,
    );
  }
  installPackages(packages);
  const still = missingDeps();
  if (still.length > 0) {
    fail(
      `preflight: installed, yet still missing: ${still.map((d) => `${d.command} (${d.pkg})`).join(", ")}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
