// Running external programs (ip, iptables) without a shell. Injected everywhere so unit tests can
// record command lines instead of touching the node.

import { execFile } from "node:child_process";
import { ExecError } from "../errors/index.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; callers decide what a non-zero status means (iptables -C exits 1 for "absent"). */
  code: number;
}

/**
 * Runs a program. Resolves with its exit status, whatever it is; rejects with ExecError only when
 * the program could not be run at all (not found, not executable, killed, timed out).
 */
export type Exec = (file: string, args: string[]) => Promise<ExecResult>;

/** One shell-like, readable command line for logs and errors (quotes arguments with spaces). */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (a === "" || /[\s"'\\$]/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

export interface RealExecOptions {
  /** Kill the program after this long (a wedged iptables must not stall the sync loop forever). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function createExec(options: RealExecOptions = {}): Exec {
  const timeout = options.timeoutMs ?? 60_000;
  return (file, args) =>
    new Promise((resolve, reject) => {
      execFile(
        file,
        args,
        {
          timeout,
          killSignal: "SIGKILL",
          maxBuffer: 64 * 1024 * 1024,
          env: options.env ?? process.env,
          encoding: "utf8",
        },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ stdout, stderr, code: 0 });
            return;
          }
          const e = error as NodeJS.ErrnoException & {
            code?: unknown;
            killed?: boolean;
            signal?: string | null;
          };
          if (typeof e.code === "number" && !e.killed && e.signal == null) {
            resolve({ stdout, stderr, code: e.code });
            return;
          }
          const why =
            e.killed || e.signal ? `killed by ${e.signal ?? "SIGKILL"} (timeout ${timeout} ms?)` : e.message;
          reject(new ExecError(commandLine(file, args), null, `${stderr}${stderr ? "\n" : ""}${why}`));
        },
      );
    });
}

/** The default real exec: 60 s timeout (iptables -w waits at most a few seconds for the lock). */
export const realExec: Exec = createExec();

/** Runs and throws ExecError (naming the command line and stderr) unless the exit status is 0. */
export async function mustRun(exec: Exec, file: string, args: string[]): Promise<ExecResult> {
  const result = await exec(file, args);
  if (result.code !== 0)
    throw new ExecError(commandLine(file, args), result.code, result.stderr || result.stdout);
  return result;
}
