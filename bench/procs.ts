// Processes the bench starts: spawn (optionally pinned with taskset), stop by PID, and /proc readings
// (CPU ticks, VmHWM/VmRSS, per-CPU busy time). Every PID is appended to a file that run.sh's trap
// also kills, so nothing outlives the bench even if this process dies hard.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync } from "node:fs";

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  done: boolean;
}

const started: Proc[] = [];
const pidFile = process.env.BENCH_PIDFILE ?? null;

export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** Starts argv (pinned to `cpu` when given), stdout+stderr to logPath. */
export function startProc(name: string, argv: string[], logPath: string, cpu: string | null): Proc {
  const cmd = cpu === null ? argv : ["taskset", "-c", cpu, ...argv];
  const fd = openSync(logPath, "a");
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd[0]}`);
  const proc: Proc = {
    name,
    pid: child.pid,
    child,
    done: false,
    exited: new Promise((resolve) => {
      child.once("exit", (code) => {
        proc.done = true;
        resolve(code);
      });
      child.once("error", () => {
        proc.done = true;
        resolve(null);
      });
    }),
  };
  track(proc.pid);
  started.push(proc);
  return proc;
}

export function track(pid: number): void {
  if (pidFile !== null) appendFileSync(pidFile, `${pid}\n`);
}

/** SIGTERM, then SIGKILL after graceMs. */
export async function stopProc(proc: Proc, graceMs = 5000): Promise<void> {
  if (proc.done) return;
  try {
    process.kill(proc.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (!proc.done) process.kill(proc.pid, "SIGKILL");
  }, graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Synchronous last resort (process 'exit' handler): SIGKILL whatever is still running. */
export function killAllSync(): void {
  for (const proc of started) {
    if (proc.done) continue;
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // raced with exit
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

export interface CpuTime {
  userUs: number;
  sysUs: number;
}

/** utime and stime (all threads) of pid and its descendants, in microseconds. */
export function cpuTime(pid: number): CpuTime {
  let userUs = 0;
  let sysUs = 0;
  for (const p of descendants(pid)) {
    const t = ownCpuTime(p);
    userUs += t.userUs;
    sysUs += t.sysUs;
  }
  return { userUs, sysUs };
}

/** utime and stime (all threads) of pid alone, in microseconds (0 once it is gone). */
export function ownCpuTime(pid: number): CpuTime {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return { userUs: (Number(fields[11]) * 1e6) / CLK_TCK, sysUs: (Number(fields[12]) * 1e6) / CLK_TCK };
  } catch {
    return { userUs: 0, sysUs: 0 }; // raced with exit
  }
}

export interface Memory {
  vmHwmKiB: number;
  vmRssKiB: number;
  /** VmRSS = RssAnon (the process's own pages: heap, arenas) + RssFile (mapped files: the node
   * binary's text, shared and reclaimable) + RssShmem. */
  rssAnonKiB: number;
  rssFileKiB: number;
}

/** VmHWM/VmRSS/RssAnon/RssFile summed over pid and descendants (one process for most servers here). */
export function memory(pid: number): Memory {
  const mem: Memory = { vmHwmKiB: 0, vmRssKiB: 0, rssAnonKiB: 0, rssFileKiB: 0 };
  for (const p of descendants(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      mem.vmHwmKiB += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      mem.vmRssKiB += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      mem.rssAnonKiB += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
      mem.rssFileKiB += Number(/RssFile:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // raced with exit
    }
  }
  return mem;
}

/** Per-CPU [busy, total] jiffies from /proc/stat (busy counts steal: time this VM did not get). */
export function cpuTimes(): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const v = m[2]!.split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.set(m[1]!, [total - idle, total]);
  }
  return out;
}

/** Busy % per CPU between two cpuTimes() readings. */
export function busyPercent(
  before: Map<string, [number, number]>,
  after: Map<string, [number, number]>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cpu, [busy, total]] of after) {
    const [b0, t0] = before.get(cpu) ?? [0, 0];
    out[cpu] = total > t0 ? Math.round((1000 * (busy - b0)) / (total - t0)) / 10 : 0;
  }
  return out;
}
