// Scenario "cluster", part d: a burst of EndpointSlice MODIFIED events written by the fake API server
// while dnsperf runs at a fixed rate on cluster names; how fast the daemon applies them and what the
// burst does to DNS latency and loss (per window and per second of the dnsperf run).

import type { FakeKubeApi } from "../test/support/kubeapi-server.ts";
import type { ClusterOptions, ClusterResult, Window } from "./cluster.ts";
import {
  emitBurst,
  expectedHeadlessAfter,
  type Fixture,
  SENTINEL_IP,
  serviceName,
} from "./cluster-fixture.ts";
import type { ourSpec } from "./daemons.ts";
import { ask } from "./dnsclient.ts";
import { percentilesOf } from "./dnsperf.ts";
import { cpuTime } from "./procs.ts";
import { base, measure, type Settings } from "./scenarios.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * When each line of dnsperf's `-v` output was sent, in seconds from its start. The server answers one
 * socket in order, so at a fixed rate the i-th line is about slot i; a timeout is printed `timeoutS`
 * after its send, so it is moved back by that. The timeouts not yet printed make this run late by up
 * to (queries lost in the last timeoutS) / rate: timeouts land up to ~0.5 s early in the burst runs.
 */
export function sendTimes(series: number[], runS: number, timeoutS: number): Float64Array {
  const rate = series.length / runS;
  const sent = new Float64Array(series.length);
  for (let i = 0; i < series.length; i++) sent[i] = Math.max(0, i / rate - (series[i]! < 0 ? timeoutS : 0));
  return sent;
}

function windowOf(series: number[], sent: Float64Array, fromS: number, toS: number): Window {
  const answered: number[] = [];
  let lost = 0;
  for (let i = 0; i < series.length; i++) {
    if (sent[i]! < fromS || sent[i]! >= toS) continue;
    if (series[i]! < 0) lost++;
    else answered.push(series[i]!);
  }
  const total = answered.length + lost;
  return {
    fromS,
    toS,
    answered: answered.length,
    lost,
    lossPct: total > 0 ? (100 * lost) / total : 0,
    latency: percentilesOf(answered),
  };
}

export async function burst(
  api: FakeKubeApi,
  fixture: Fixture,
  spec: ReturnType<typeof ourSpec>,
  pid: number,
  s: Settings,
  opts: ClusterOptions,
  file: string,
  log: (msg: string) => void,
): Promise<NonNullable<ClusterResult["burst"]>> {
  const o = {
    ...base(spec, s, file),
    seconds: opts.burstSeconds,
    maxQps: opts.burstQps,
    outstanding: 1000,
    verbose: true,
    series: true,
  };
  const running = measure(spec, pid, o);
  await sleep(opts.burstAt * 1000);
  const cpu0 = cpuTime(pid);
  const start = performance.now();
  await emitBurst(api, fixture, opts.burstEvents);
  const emitted = performance.now();
  let applied = Number.NaN;
  while (performance.now() - start < 60_000) {
    const a = await ask(spec.host, spec.port, serviceName(0), "A", 200);
    if (a?.data.includes(SENTINEL_IP)) {
      applied = performance.now();
      break;
    }
    await sleep(2);
  }
  const cpu1 = cpuTime(pid);
  const cpuAt = performance.now();
  const run = await running;
  const series = run.perf.series ?? [];
  delete run.perf.series; // 100k+ numbers: not for the JSON
  const rel = (t: number) => (t - run.perf.startedAtMs) / 1000;
  const end = run.perf.runTimeS;
  const burstFrom = rel(start);
  const burstTo = Number.isFinite(applied) ? Math.min(end, rel(applied)) : end;
  const sent = sendTimes(series, end, o.timeout);
  const windows = {
    before: windowOf(series, sent, 0.5, burstFrom),
    during: windowOf(series, sent, burstFrom, burstTo),
    after: burstTo + 0.5 < end ? windowOf(series, sent, burstTo + 0.5, end) : null,
  };
  const timeline: Window[] = [];
  for (let t = 0; t < Math.ceil(end); t++) timeline.push(windowOf(series, sent, t, Math.min(t + 1, end)));
  let wrong = 0;
  let checked = 0;
  for (let i = 0; i < 100; i += 5) {
    const a = await ask(spec.host, spec.port, serviceName(i), "A");
    checked++;
    const got = (a?.data ?? []).slice().sort().join(",");
    if (got !== expectedHeadlessAfter(i, opts.burstEvents).join(",")) wrong++;
  }
  const appliedMs = applied - start;
  const cpuUs = cpu1.userUs + cpu1.sysUs - cpu0.userUs - cpu0.sysUs;
  const out = {
    events: opts.burstEvents,
    emitMs: Math.round(emitted - start),
    appliedMs: Math.round(appliedMs),
    eventsPerS: opts.burstEvents / (appliedMs / 1000),
    emitterEventsPerS: opts.burstEvents / ((emitted - start) / 1000),
    daemonCpuBusyPct: (100 * cpuUs) / ((cpuAt - start) * 1000),
    run,
    windows,
    timeline,
    burstFromS: burstFrom,
    burstToS: burstTo,
    sampleChecked: checked,
    sampleWrong: wrong,
  };
  log(
    `cluster burst: ${out.events} events written in ${out.emitMs} ms, applied after ${out.appliedMs} ms → ${out.eventsPerS.toFixed(0)} events/s; p99 before ${windows.before.latency.p99Ms.toFixed(3)} ms, during ${windows.during.latency.p99Ms.toFixed(3)} ms; loss during ${windows.during.lossPct.toFixed(3)} %; ${wrong}/${checked} sampled services wrong after`,
  );
  return out;
}
