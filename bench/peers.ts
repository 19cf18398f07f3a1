// Scenario "peers": our daemon vs unbound and dnsmasq — cache hits, latency at a fixed rate, TCP
// misses and memory, scenario-major (each scenario for every server back to back).

import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Proc, startProc, stopProc } from "./procs.ts";
import type { RoundResult } from "./report.ts";
import { hits, latency, misses, readMemory, type Settings, warm } from "./scenarios.ts";
import { hitName, type ServerSpec, waitReady, writeMissQueries } from "./setup.ts";

type Mem = ReturnType<typeof readMemory>;

export interface PeersResult {
  memory: { start: Record<string, Mem>; afterWarm: Record<string, Mem>; end: Record<string, Mem> };
  results: RoundResult[];
}

export async function peersScenario(
  servers: ServerSpec[],
  settings: Settings,
  rounds: number,
  hitsFile: string,
  work: string,
  log: (msg: string) => void,
): Promise<PeersResult> {
  const procs: Proc[] = [];
  const pids = new Map<string, number>();
  try {
    for (const server of servers) {
      const proc = startProc(server.key, server.argv, join(work, `${server.key}.log`), settings.serverCpu);
      procs.push(proc);
      if (!(await waitReady(server.host, server.port, hitName(1), 15_000))) {
        throw new Error(
          `${server.key} did not answer; log:\n${readFileSync(join(work, `${server.key}.log`), "utf8").slice(-2000)}`,
        );
      }
      pids.set(server.key, proc.pid);
      // Our daemon says which UDP path it runs; a bench of the dgram fallback must not pass unnoticed.
      const udp = /"udp":"(\w+)","msg":"serving/.exec(
        readFileSync(join(work, `${server.key}.log`), "utf8"),
      )?.[1];
      log(
        `${server.label} up (pid ${proc.pid}, CPU ${settings.serverCpu}${udp === undefined ? "" : `, UDP ${udp}`})`,
      );
    }
    const memStart: Record<string, Mem> = {};
    for (const server of servers) memStart[server.key] = readMemory(pids.get(server.key)!);
    const memAfterWarm: Record<string, Mem> = {};
    for (const server of servers) {
      const w = await warm(server, settings, hitsFile);
      memAfterWarm[server.key] = readMemory(pids.get(server.key)!);
      log(
        `${server.key}: warmed ${w.completed} names in ${w.runTimeS.toFixed(2)} s; VmHWM ${memAfterWarm[server.key]!.vmHwmKiB} KiB`,
      );
    }
    const results: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const round: RoundResult = { hits: {}, latency: {}, miss: {} };
      for (const server of servers) {
        const m = await hits(server, pids.get(server.key)!, settings, hitsFile);
        round.hits[server.key] = m;
        log(
          `round ${r + 1} hits ${server.key}: ${m.perf.qps.toFixed(0)} q/s, loss ${m.perf.lossPct.toFixed(3)} %, ${m.cpuUsPerQuery.toFixed(1)} µs CPU/q`,
        );
      }
      for (const server of servers) {
        const m = await latency(server, pids.get(server.key)!, settings, hitsFile);
        round.latency[server.key] = m;
        const p = m.perf.percentiles!;
        log(
          `round ${r + 1} latency ${server.key}: p50 ${p.p50Ms.toFixed(3)} p99 ${p.p99Ms.toFixed(3)} max ${p.maxMs.toFixed(3)} ms, loss ${m.perf.lossPct.toFixed(3)} %`,
        );
      }
      for (const server of servers) {
        const tag = `${server.key}-r${r}`;
        const files = {
          max: writeMissQueries(work, tag, settings.missNames),
          lowLoss: () => writeMissQueries(work, `${tag}b`, settings.missNames),
        };
        const m = await misses(server, pids.get(server.key)!, settings, files);
        round.miss[server.key] = m;
        rmSync(join(work, `miss-${tag}.txt`), { force: true });
        rmSync(join(work, `miss-${tag}b.txt`), { force: true });
        const low =
          m.lowLoss === null
            ? ""
            : `; at ${m.lowLoss.perf.qps.toFixed(0)} q/s loss ${m.lowLoss.perf.lossPct.toFixed(3)} %`;
        log(
          `round ${r + 1} misses ${server.key} (${server.upstreamTransport}): ${m.max.perf.qps.toFixed(0)} q/s, loss ${m.max.perf.lossPct.toFixed(3)} %${low}`,
        );
      }
      results.push(round);
    }
    const memEnd: Record<string, Mem> = {};
    for (const server of servers) memEnd[server.key] = readMemory(pids.get(server.key)!);
    return { memory: { start: memStart, afterWarm: memAfterWarm, end: memEnd }, results };
  } finally {
    for (const proc of procs.reverse()) await stopProc(proc, 3000);
  }
}
