// Part of scenario "cluster": the same index held by -workers N. The primary runs the node's one
// watch and feeds every worker; each process's RssAnon/RssFile is read once /ready is 200, and the
// fake API server's requests are counted (one list and one watch per resource whatever N is).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import { hitBlock, type Ours, ourSpec } from "./daemons.ts";
import { descendants, type Memory, startProc, stopProc } from "./procs.ts";
import type { Settings } from "./scenarios.ts";

export interface WorkersIndexResult {
  workers: number;
  syncMs: number;
  /** The primary first, then each worker (each alone, not with its descendants). */
  processes: { role: string; memory: Memory }[];
  /** Requests per resource path seen by the API server while this daemon ran: lists and watches. */
  requests: Record<string, { lists: number; watches: number }>;
  error?: string;
}

const PORT = 10073;
const METRICS = "127.0.0.1:9273";
const READY = "127.0.0.1:8273";

function ownMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    vmHwmKiB: kib("VmHWM"),
    vmRssKiB: kib("VmRSS"),
    rssAnonKiB: kib("RssAnon"),
    rssFileKiB: kib("RssFile"),
  };
}

export async function workersIndex(
  api: FakeKubeApi,
  o: Ours,
  s: Settings,
  workers: number,
  log: (msg: string) => void,
): Promise<WorkersIndexResult> {
  const corefile = `cluster.local:${PORT} {
    bind 127.0.0.1
    cache {
        success 9984 30
        denial 9984 5
    }
    kubernetes cluster.local {
        endpoint ${api.url}
    }
    forward . 127.0.0.1:9
    ready ${READY}
}
${hitBlock(PORT, METRICS)}`;
  const spec = ourSpec(o, {
    key: `cluster-w${workers}`,
    label: `index, ${workers} workers`,
    port: PORT,
    corefile,
    workers,
    metrics: METRICS,
  });
  const before = api.requests.length;
  const t0 = performance.now();
  const proc = startProc(spec.key, spec.argv, join(o.dir, `${spec.key}.log`), s.serverCpu);
  const result: WorkersIndexResult = { workers, syncMs: Number.NaN, processes: [], requests: {} };
  try {
    for (;;) {
      const status = await fetch(`http://${READY}/ready`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (proc.done || performance.now() - t0 > 120_000)
        throw new Error(`no /ready 200 (see ${spec.key}.log)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    result.syncMs = Math.round(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2000)); // the list's garbage collected, as on a quiet node
    const pids = descendants(proc.pid);
    result.processes = pids.map((pid, i) => ({
      role: i === 0 ? (workers > 1 ? "primary" : "daemon") : `worker ${i}`,
      memory: ownMemory(pid),
    }));
    for (const url of api.requests.slice(before)) {
      const path = url.split("?")[0]!;
      result.requests[path] ??= { lists: 0, watches: 0 };
      const entry = result.requests[path];
      if (/[?&]watch=(1|true)/.test(url)) entry.watches++;
      else entry.lists++;
    }
    log(
      `cluster, ${workers} workers: ready after ${result.syncMs} ms; RssAnon ${result.processes.map((p) => `${p.role} ${(p.memory.rssAnonKiB / 1024).toFixed(1)}`).join(", ")} MiB; ` +
        `requests ${JSON.stringify(result.requests)}`,
    );
  } catch (error) {
    result.error = (error as Error).message;
    log(`cluster, ${workers} workers: FAILED: ${result.error}`);
  } finally {
    await stopProc(proc, 10_000);
  }
  return result;
}
