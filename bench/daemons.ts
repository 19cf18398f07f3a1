// Variants of our daemon for the extra scenarios (cluster records, metrics cost, workers): their
// Corefiles, and starting one pinned and waiting until it answers.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Proc, startProc } from "./procs.ts";
import {
  hitName,
  type ServerSpec,
  SHIPPED_NODE_FLAGS,
  shippedCommand,
  UPSTREAM,
  waitReady,
} from "./setup.ts";

export interface Ours {
  dir: string;
  node: string;
  mainJs: string;
}

/** The `.` block of the cache-hit bench: same cache and forward as the peers scenario. */
export function hitBlock(port: number, prometheus: string | null): string {
  return `.:${port} {
    bind 127.0.0.1
    cache 30 {
        success 20000
    }
    forward . ${UPSTREAM.host}:${UPSTREAM.port} {
        force_tcp
    }
${prometheus === null ? "" : `    prometheus ${prometheus}\n`}}
`;
}

/** BENCH_DAEMON_NODE_FLAGS (e.g. "--trace-gc") for diagnosing the variant daemons; empty by default. */
function nodeFlags(base: readonly string[]): string[] {
  const extra = (process.env.BENCH_DAEMON_NODE_FLAGS ?? "").split(/\s+/).filter((f) => f !== "");
  return [...base, ...extra];
}

export function ourSpec(
  o: Ours,
  v: {
    key: string;
    label: string;
    port: number;
    corefile: string;
    workers: number;
    metrics: string | null;
    /** Node flags instead of the shipped ones. */
    nodeFlags?: readonly string[];
  },
): ServerSpec {
  const path = join(o.dir, `Corefile-${v.key}`);
  writeFileSync(path, v.corefile);
  const spec: ServerSpec = {
    key: v.key,
    label: v.label,
    host: "127.0.0.1",
    port: v.port,
    upstreamTransport: "tcp",
    argv: [
      ...shippedCommand(o.node, nodeFlags(v.nodeFlags ?? SHIPPED_NODE_FLAGS)),
      o.mainJs,
      "-conf",
      path,
      "-workers",
      String(v.workers),
    ],
    config: v.corefile,
  };
  if (v.metrics !== null) spec.metricsUrl = `http://${v.metrics}/metrics`;
  return spec;
}

/** Starts `spec` pinned to `cpu`, waits until it answers hit name 1 (through the upstream). */
export async function startOurs(spec: ServerSpec, dir: string, cpu: string | null): Promise<Proc> {
  const log = join(dir, `${spec.key}.log`);
  const proc = startProc(spec.key, spec.argv, log, cpu);
  if (!(await waitReady(spec.host, spec.port, hitName(1), 20_000))) {
    throw new Error(`${spec.key} did not answer; log:\n${readFileSync(log, "utf8").slice(-2000)}`);
  }
  return proc;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
