// Allocation per query, measured from V8's own GC trace: a server runs under
// `node --trace-gc-nvp --import bench/heap-probe.mjs`; dnsperf sends a bounded number of queries
// between two heap marks; the GC lines between the marks give bytes allocated, scavenges,
// mark-compacts and bytes promoted, and the marks give the old generation's size. Shared by
// bench/alloc.ts (10^6 queries) and test/cache-heap.test.ts (2 x 10^5).

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { SHIPPED_ENV, SHIPPED_NODE_FLAGS } from "./setup.ts";

export const PROBE = join(import.meta.dirname, "heap-probe.mjs");

export interface HeapMark {
  mark: number;
  heapUsed: number;
  spaces: Record<string, number>;
}

export interface Window {
  completed: number;
  sent: number;
  seconds: number;
  scavenges: number;
  markCompacts: number;
  allocatedBytes: number;
  promotedBytes: number;
  /** old_space used at the end minus at the start (no GC forced: promoted garbage counts). */
  oldSpaceGrowth: number;
}

/** A server under measurement: its PID (to signal) and its output so far. */
export interface Traced {
  pid: number;
  output(): string;
}

/** Node flags for a traced server (the shipped ones, so figures match production). */
export function tracedNodeFlags(): string[] {
  return [...SHIPPED_NODE_FLAGS, "--trace-gc-nvp", "--import", PROBE];
}

/** The environment a daemon ships with (glibc malloc tunables) on top of ours. */
export function shippedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const kv of SHIPPED_ENV) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  return env;
}

/** Start `argv` (after the node binary) with its stdout collected. */
export function startTraced(
  node: string,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Traced & { child: ChildProcess } {
  const child = spawn(node, argv, { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  return { child, pid: child.pid!, output: () => out };
}

const MARK = "NLD-HEAP-MARK ";

/** The text of mark `n` in `text` (its JSON), or null while it has not arrived. */
function findMark(text: string, n: number): { at: number; mark: HeapMark } | null {
  const at = text.indexOf(`${MARK}{"mark":${n},`);
  if (at < 0) return null;
  const end = text.indexOf("\n", at);
  return { at, mark: JSON.parse(text.slice(at + MARK.length, end < 0 ? undefined : end)) as HeapMark };
}

const marksSent = new Map<number, number>();

/** Ask the server for its next heap mark and wait for it; returns the mark's number. */
async function mark(server: Traced): Promise<number> {
  const n = (marksSent.get(server.pid) ?? 0) + 1;
  marksSent.set(server.pid, n);
  process.kill(server.pid, "SIGUSR2");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (findMark(server.output(), n) !== null) return n;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no heap mark from the server (is bench/heap-probe.mjs preloaded?)");
}

export interface PerfRun {
  host: string;
  port: number;
  file: string;
  /** Passes over the file (dnsperf -n). */
  passes: number;
  maxSeconds: number;
  clients?: number;
  outstanding?: number;
  /** CPU list for dnsperf (taskset), when given. */
  cpu?: string;
  /** dnsperf -Q: at most this many queries per second. */
  maxQps?: number;
}

export function dnsperf(run: PerfRun): Promise<{ sent: number; completed: number; seconds: number }> {
  const args = [
    "-s",
    run.host,
    "-p",
    String(run.port),
    "-d",
    run.file,
    "-n",
    String(run.passes),
    "-l",
    String(run.maxSeconds),
    "-c",
    String(run.clients ?? 4),
    "-q",
    String(run.outstanding ?? 100),
    "-t",
    "2",
    ...(run.maxQps === undefined ? [] : ["-Q", String(run.maxQps)]),
  ];
  const [cmd, argv] =
    run.cpu === undefined ? ["dnsperf", args] : ["taskset", ["-c", run.cpu, "dnsperf", ...args]];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: (run.maxSeconds + 15) * 1000 }, (error, stdout) => {
      const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? Number.NaN);
      const completed = num(/Queries completed:\s+(\d+)/);
      if (error && Number.isNaN(completed)) return reject(error);
      resolve({ sent: num(/Queries sent:\s+(\d+)/), completed, seconds: num(/Run time \(s\):\s+([\d.]+)/) });
    });
  });
}

/** Run dnsperf against a traced server between two heap marks and read the window. */
export async function measureWindow(server: Traced, run: PerfRun): Promise<Window> {
  const first = await mark(server);
  const perf = await dnsperf(run);
  const last = await mark(server);
  const text = server.output();
  const start = findMark(text, first)!;
  const end = findMark(text, last)!;
  const lines = text
    .slice(start.at, end.at)
    .split("\n")
    .filter((l) => l.includes(" pause=") && l.includes(" gc="));
  const field = (line: string, name: string) =>
    Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  let allocated = 0;
  let promoted = 0;
  let scavenges = 0;
  let markCompacts = 0;
  for (const line of lines) {
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (kind === "s") scavenges++;
    else markCompacts++;
    allocated += field(line, "allocated");
    promoted += field(line, "promoted");
  }
  return {
    ...perf,
    scavenges,
    markCompacts,
    allocatedBytes: allocated,
    promotedBytes: promoted,
    oldSpaceGrowth: (end.mark.spaces.old_space ?? 0) - (start.mark.spaces.old_space ?? 0),
  };
}

/** A bare dgram echo server: the floor of what Node's socket layer allocates per datagram. */
export const ECHO_SERVER = `
const dgram = require("node:dgram");
const [host, port] = [process.argv[1], Number(process.argv[2])];
const socket = dgram.createSocket("udp4");
socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.bind(port, host, () => process.stdout.write("echo ready\\n"));
`;

export function perQuery(w: Window): { bytes: number; scavengesPerMillion: number; promotedBytes: number } {
  return {
    bytes: w.allocatedBytes / w.completed,
    scavengesPerMillion: (w.scavenges * 1e6) / w.completed,
    promotedBytes: w.promotedBytes / w.completed,
  };
}
