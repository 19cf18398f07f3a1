// Optional (--profile): one more cache-hit run against our daemon started under `node --cpu-prof`,
// then a summary of where its CPU went (self time by function and by source file).

import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { startProc, stopProc } from "./procs.ts";
import { hits, type Measured, type Settings } from "./scenarios.ts";
import { hitName, type ServerSpec, waitReady } from "./setup.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  dir: string;
  file: string;
  run: Measured;
  totalMs: number;
  byFunction: ProfileEntry[];
  byFile: ProfileEntry[];
}

const root = resolve(import.meta.dirname, "..");

function where(url: string): string {
  if (url === "") return "(native/VM)";
  const path = url.replace(/^file:\/\//, "");
  // The bench runs a snapshot of dist/ (bench/results/.dist-PID): name it dist/ again.
  if (path.startsWith("/")) return relative(root, path).replace(/^bench\/results\/\.dist-\d+\//, "dist/");
  return path;
}

export function summarise(path: string, top = 25): Omit<ProfileSummary, "dir" | "run"> {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const us = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    const cf = node.callFrame;
    if (cf.functionName === "(idle)") continue;
    total += us;
    const loc = where(cf.url);
    const key =
      cf.url === ""
        ? cf.functionName || "(anonymous)"
        : `${cf.functionName || "(anonymous)"} ${loc}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fileKey = cf.url === "" ? cf.functionName : loc;
    file.set(fileKey, (file.get(fileKey) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us / 100) / 10,
        pct: Math.round((1000 * us) / total) / 10,
      }));
  return { file: path, totalMs: Math.round(total / 1000), byFunction: rank(fn), byFile: rank(file) };
}

export async function profileRun(
  server: ServerSpec,
  settings: Settings,
  hitsFile: string,
  dir: string,
  logPath: string,
): Promise<ProfileSummary> {
  const [node, ...rest] = server.argv;
  const proc = startProc(
    "ours-profiled",
    [node!, "--cpu-prof", `--cpu-prof-dir=${dir}`, ...rest],
    logPath,
    settings.serverCpu,
  );
  try {
    if (!(await waitReady(server.host, server.port, hitName(1), 15_000)))
      throw new Error("profiled daemon did not answer");
    const run = await hits(server, proc.pid, settings, hitsFile);
    await stopProc(proc, 10_000);
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (files.length === 0)
      throw new Error(`no .cpuprofile in ${dir} (did the daemon exit cleanly on SIGTERM?)`);
    return { dir, run, ...summarise(join(dir, files.sort().at(-1)!)) };
  } finally {
    await stopProc(proc);
  }
}
