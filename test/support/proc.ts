// A spawned child whose stdout/stderr lines are captured, that dies with the test process
// (setpriv --pdeathsig when available, plus an exit hook), and that can be stopped by PID.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { onCleanup } from "./cleanup.ts";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Everything written to stdout and stderr so far, as lines in arrival order. */
  output(): string;
  lines(): readonly string[];
  /** Resolves with the first line (at index >= `from`) matching `re`; rejects after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILL. Resolves with how it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  /** SIGKILL without waiting. */
  kill(): void;
  isRunning(): boolean;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Name for error messages. */
  label?: string;
  /**
   * Also start a watchdog shell that SIGKILLs the child when our process dies, even by SIGKILL. Needed
   * for programs that change credentials (dnsmasq drops capabilities), which clears --pdeathsig.
   */
  watchdog?: boolean;
}

const SETPRIV = "/usr/bin/setpriv";
const MAX_LINES = 50_000;

export function spawnProc(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const useSetpriv = existsSync(SETPRIV);
  // setpriv execs the command, so the PID we get is the command's own.
  const file = useSetpriv ? SETPRIV : cmd;
  const argv = useSetpriv ? ["--pdeathsig", "KILL", "--", cmd, ...args] : args;
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const label = opts.label ?? cmd;
  const captured: string[] = [];
  const waiters = new Set<{ re: RegExp; from: number; done: (line: string) => void; fail: () => void }>();
  let running = true;

  const push = (line: string): void => {
    if (captured.length >= MAX_LINES) captured.splice(0, captured.length - MAX_LINES + 1);
    captured.push(line);
    const idx = captured.length - 1;
    for (const w of waiters) if (idx >= w.from && w.re.test(line)) w.done(line);
  };
  const reader = (stream: NodeJS.ReadableStream | null): void => {
    if (!stream) return;
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) push(p);
    });
    stream.on("end", () => {
      if (rest) push(rest);
      rest = "";
    });
  };
  reader(child.stdout);
  reader(child.stderr);

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      running = false;
      push(`spawn error: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });

  // Once stdio is closed no further line can arrive: fail pending waits now rather than at their timeout.
  let closed = false;
  child.once("close", () => {
    closed = true;
    for (const w of waiters) w.fail();
  });

  const killNow = (): void => {
    if (running && child.pid) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<ExitInfo> => {
    if (running && child.pid) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone
      }
      const timer = setTimeout(killNow, graceMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    }
    return exited;
  };

  if (opts.watchdog && child.pid) startWatchdog(child.pid, exited);

  const unregister = onCleanup(() => stop("SIGTERM", 2000).then(() => undefined), killNow);
  void exited.then(unregister);

  return {
    pid: child.pid ?? -1,
    child,
    exited,
    output: () => captured.join("\n"),
    lines: () => captured,
    isRunning: () => running,
    stop,
    kill: killNow,
    waitForLine(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
      for (let i = from; i < captured.length; i++) {
        const line = captured[i]!;
        if (re.test(line)) return Promise.resolve(line);
      }
      return new Promise((resolve, reject) => {
        const w = {
          re,
          from,
          done: (line: string) => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(line);
          },
          fail: () => fail("process exited"),
        };
        const fail = (why: string): void => {
          clearTimeout(timer);
          waiters.delete(w);
          reject(new Error(`${label}: no line matching ${re} (${why}); output:\n${captured.join("\n")}`));
        };
        const timer = setTimeout(() => fail(`within ${timeoutMs} ms`), timeoutMs);
        if (closed) fail("process exited");
        else waiters.add(w);
      });
    },
  };
}

// The watchdog blocks reading a pipe whose write end only we hold; EOF means we are gone.
function startWatchdog(pid: number, exited: Promise<ExitInfo>): void {
  const dog = spawn("/bin/sh", ["-c", `read _ ; kill -KILL ${pid} 2>/dev/null`], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  dog.on("error", () => undefined);
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  void exited.then(() => {
    if (dog.exitCode === null && dog.pid) {
      try {
        process.kill(dog.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
}

/** The PIDs of a process's direct children (the workers of `-workers N`); [] once it is gone. */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}
