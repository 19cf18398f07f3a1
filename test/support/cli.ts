// Runs the daemon's command line (`node dist/main.js ARGS`) to completion, as an operator would.

import { execFile } from "node:child_process";
import { daemonEntry } from "./daemon.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/main.js ARGS`, or `PREFIX... node dist/main.js ARGS` (e.g. `ip netns exec NS`). */
export function cli(args: string[], prefix: string[] = []): Promise<CliRun> {
  const [file, ...rest] = [...prefix, process.execPath, daemonEntry(), ...args];
  return new Promise((resolve) => {
    execFile(file!, rest, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}
