// Runs the real daemon (dist/main.js under this Node) with a Corefile, captures its output, and waits
// until it answers DNS.

import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Server, waitForDns } from "./client.ts";
import { type Proc, spawnProc } from "./proc.ts";
import { tempDir } from "./tmp.ts";

/** The project root: two levels above test/support/. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The daemon's entry: $NODELOCALDNS_ENTRY, else dist/main.js, else dist/src/main.js (what tsc emits
 * with rootDir "."), else dist/main.js (so the error names it).
 */
export function daemonEntry(): string {
  const env = process.env.NODELOCALDNS_ENTRY;
  if (env) return resolve(PROJECT_ROOT, env);
  for (const p of ["dist/main.js", "dist/src/main.js"]) {
    const full = join(PROJECT_ROOT, p);
    if (existsSync(full)) return full;
  }
  return join(PROJECT_ROOT, "dist/main.js");
}

export interface DaemonOptions {
  /** Corefile text, written to <tmp>/Corefile and passed as `-conf`. */
  corefile: string;
  /** Further flags after `-conf <file>`. */
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Resolve only once a UDP query to this address gets any DNS reply (10 s, else reject with output). */
  readyProbe?: Server;
  readyTimeoutMs?: number;
  /** Script to run instead of the daemon entry (tests of this helper). */
  entry?: string;
  /** Node flags before the script, e.g. ["--enable-source-maps"]. */
  nodeArgs?: string[];
}

/** The daemon's process (as spawnProc gives it) and where its Corefile lives. */
export interface Daemon extends Omit<Proc, "child"> {
  /** Directory holding the Corefile; extra fixture files can go here. */
  readonly dir: string;
  readonly corefilePath: string;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const dir = await tempDir("nldns-daemon-");
  const corefilePath = join(dir, "Corefile");
  await writeFile(corefilePath, opts.corefile);
  const entry = opts.entry ?? daemonEntry();
  const argv = [...(opts.nodeArgs ?? []), entry, "-conf", corefilePath, ...(opts.args ?? [])];
  const spawnOpts = { cwd: opts.cwd ?? dir, label: "daemon", ...(opts.env ? { env: opts.env } : {}) };
  const proc = spawnProc(process.execPath, argv, spawnOpts);

  if (opts.readyProbe) {
    try {
      await waitForDns(opts.readyProbe, opts.readyTimeoutMs ?? 10_000, proc.isRunning);
    } catch (err) {
      await proc.stop("SIGKILL");
      throw new Error(`daemon not ready: ${String(err)}\n--- daemon output ---\n${proc.output()}`);
    }
  }
  return {
    pid: proc.pid,
    dir,
    corefilePath,
    exited: proc.exited,
    output: proc.output,
    lines: proc.lines,
    waitForLine: proc.waitForLine,
    stop: (signal = "SIGTERM", graceMs = 10_000) => proc.stop(signal, graceMs),
    kill: proc.kill,
    isRunning: proc.isRunning,
  };
}
