// Scenarios comparing two builds of our daemon's configuration on cache hits, in the same run:
// "metrics" (issue 6: the `prometheus` directive present vs absent) and "workers" (issue 7:
// -workers 1 vs -workers 2). The two daemons run side by side and are measured alternately (ABBA),
// so the noisy shared machine affects both alike.

import { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import { loadFixture, SERVICES, waitIndexSynced } from "./cluster-fixture.ts";
import { hitBlock, type Ours, ourSpec, startOurs } from "./daemons.ts";
import { descendants, type Memory, memory, ownCpuTime, type Proc, stopProc } from "./procs.ts";
import { base, type Measured, measure, type Settings, warm } from "./scenarios.ts";
import { type ServerSpec, SHIPPED_NODE_FLAGS, UPSTREAM } from "./setup.ts";

export interface VariantSpec {
  spec: ServerSpec;
  /** taskset CPU list for the daemon (and its workers). */
  cpu: string;
}

export interface VariantRun {
  key: string;
  round: number;
  m: Measured;
  /** CPU seconds per process of the daemon's tree during the run (primary first). */
  perProcessCpuS: number[];
}

export interface VariantResult {
  variants: { key: string; label: string; argv: string[]; config: string; cpu: string }[];
  clients: number;
  rounds: number;
  runs: VariantRun[];
  memory: Record<string, Memory>;
  error?: string;
}

function perProcess(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of descendants(pid)) {
    const t = ownCpuTime(p); // the process alone (cpuTime would add the primary's workers to it)
    out.set(p, t.userUs + t.sysUs);
  }
  return out;
}

export async function compareVariants(
  defs: VariantSpec[],
  s: Settings,
  rounds: number,
  hitsFile: string,
  dir: string,
  log: (msg: string) => void,
  /** Runs once every variant has started, before the first warm-up (e.g. wait for an index sync). */
  afterStart: () => Promise<void> = async () => {},
  /** A fixed offered rate for the measured runs (dnsperf -Q); as fast as possible when undefined. */
  maxQps?: number,
): Promise<VariantResult> {
  const result: VariantResult = {
    variants: defs.map((d) => ({
      key: d.spec.key,
      label: d.spec.label,
      argv: d.spec.argv,
      config: d.spec.config,
      cpu: d.cpu,
    })),
    clients: s.clients,
    rounds,
    runs: [],
    memory: {},
  };
  const procs: Proc[] = [];
  try {
    for (const d of defs) procs.push(await startOurs(d.spec, dir, d.cpu));
    await afterStart();
    for (const d of defs) await warm(d.spec, s, hitsFile);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? defs.map((_, i) => i) : defs.map((_, i) => defs.length - 1 - i);
      for (const i of order) {
        const { spec } = defs[i]!;
        const pid = procs[i]!.pid;
        await warm(spec, s, hitsFile);
        const before = perProcess(pid);
        const perf = base(spec, s, hitsFile);
        if (maxQps !== undefined) perf.maxQps = maxQps;
        const m = await measure(spec, pid, perf);
        const after = perProcess(pid);
        const perProcessCpuS = [...after].map(([p, us]) => (us - (before.get(p) ?? 0)) / 1e6);
        result.runs.push({ key: spec.key, round: r, m, perProcessCpuS });
        log(
          `round ${r + 1} ${spec.key}: ${m.perf.qps.toFixed(0)} q/s, loss ${m.perf.lossPct.toFixed(3)} %, ${m.cpuUsPerQuery.toFixed(2)} µs CPU/q` +
            (perProcessCpuS.length > 1
              ? ` (per process ${perProcessCpuS.map((x) => x.toFixed(2)).join(" / ")} s)`
              : ""),
        );
      }
    }
    defs.forEach((d, i) => {
      result.memory[d.spec.key] = memory(procs[i]!.pid);
    });
  } catch (error) {
    result.error = (error as Error).message;
    log(`variants ${defs.map((d) => d.spec.key).join(" vs ")}: FAILED: ${result.error}`);
  } finally {
    for (const p of procs) await stopProc(p);
  }
  return result;
}

/** Issue 6: the same cache-hit Corefile with and without the `prometheus` directive. */
export function metricsScenario(
  o: Ours,
  s: Settings,
  rounds: number,
  hitsFile: string,
  log: (m: string) => void,
) {
  const on = ourSpec(o, {
    key: "metrics-on",
    label: "prometheus on",
    port: 10073,
    corefile: hitBlock(10073, "127.0.0.1:9273"),
    workers: 1,
    metrics: "127.0.0.1:9273",
  });
  const off = ourSpec(o, {
    key: "metrics-off",
    label: "no prometheus directive",
    port: 10074,
    corefile: hitBlock(10074, null),
    workers: 1,
    metrics: null,
  });
  const defs = [
    { spec: on, cpu: s.serverCpu },
    { spec: off, cpu: s.serverCpu },
  ];
  return compareVariants(defs, s, rounds, hitsFile, o.dir, log);
}

/** Issue 7: -workers 1 on the server CPU vs -workers 2 on every CPU (dnsperf stays on its own). */
export function workersScenario(
  o: Ours,
  s: Settings,
  rounds: number,
  hitsFile: string,
  allCpus: string,
  log: (m: string) => void,
) {
  const mk = (n: number, port: number) =>
    ourSpec(o, {
      key: `workers-${n}`,
      label: `-workers ${n}`,
      port,
      corefile: hitBlock(port, `127.0.0.1:${port - 800}`),
      workers: n,
      metrics: `127.0.0.1:${port - 800}`,
    });
  const defs = [
    { spec: mk(1, 10083), cpu: s.serverCpu },
    { spec: mk(2, 10084), cpu: allCpus },
  ];
  return compareVariants(defs, s, rounds, hitsFile, o.dir, log);
}

/** The heap scenario weighs the shipped node flags against V8's default old-generation growth. */
export const HEAP_CANDIDATE_FLAGS = [...SHIPPED_NODE_FLAGS];
export const HEAP_BASE_FLAGS = SHIPPED_NODE_FLAGS.filter((f) => !f.startsWith("--heap-growing-percent"));

/**
 * Issue 4: V8 lets the old generation grow to several times the live heap before collecting, so
 * a daemon holding the cluster index climbs far above its size under load. Two daemons, each with
 * the 10,000-service index and the cache-hit block, one with V8's default heap growth and one with
 * the shipped cap: cache-hit CPU (ABBA) and memory after the runs.
 */
export async function heapScenario(
  o: Ours,
  s: Settings,
  rounds: number,
  hitsFile: string,
  log: (m: string) => void,
  maxQps?: number,
): Promise<VariantResult> {
  const api = new FakeKubeApi();
  await api.start("127.0.0.1", 0);
  try {
    loadFixture(api);
    const mk = (key: string, label: string, port: number, flags: readonly string[]) =>
      ourSpec(o, {
        key,
        label,
        port,
        corefile: `${indexBlock(port, api.url)}${hitBlock(port, `127.0.0.1:${port - 800}`)}`,
        workers: 1,
        metrics: `127.0.0.1:${port - 800}`,
        nodeFlags: flags,
      });
    const defs = [
      { spec: mk("heap-default", HEAP_BASE_FLAGS.join(" "), 10093, HEAP_BASE_FLAGS), cpu: s.serverCpu },
      {
        spec: mk("heap-capped", HEAP_CANDIDATE_FLAGS.join(" "), 10094, HEAP_CANDIDATE_FLAGS),
        cpu: s.serverCpu,
      },
    ];
    const synced = async () => {
      for (const d of defs) await waitIndexSynced(d.spec.host, d.spec.port, d.spec.key);
      log(`heap: both daemons have the index (${SERVICES} services)`);
    };
    return await compareVariants(defs, s, rounds, hitsFile, o.dir, log, synced, maxQps);
  } finally {
    await api.stop();
  }
}

/** A `cluster.local` block answering from the index, misses to the bench upstream. */
export function indexBlock(port: number, url: string): string {
  return `cluster.local:${port} {
    bind 127.0.0.1
    kubernetes cluster.local {
        endpoint ${url}
    }
    forward . ${UPSTREAM.host}:${UPSTREAM.port} {
        force_tcp
    }
}
`;
}
