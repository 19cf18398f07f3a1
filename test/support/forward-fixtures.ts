// Shared by the forwarder tests: an observer that records what it is told, a ForwardConfig with
// test defaults, and forwarders that are closed when the test file ends.

import { after } from "node:test";
import { TimerWheel } from "../../src/clock/index.ts";
import { FORWARD_DEFAULTS } from "../../src/config/index.ts";
import type { ForwardConfig } from "../../src/config/types.ts";
import { Forwarder } from "../../src/forward/index.ts";
import type { ForwardObserver, ForwardTuning } from "../../src/forward/types.ts";

export class Recorder implements ForwardObserver {
  results: { to: string; proto: string; rcode: string; seconds: number }[] = [];
  checkFailures: string[] = [];
  allDown = 0;
  rejects = 0;
  conns = new Map<string, number>();
  upstreamResult(to: string, proto: "udp" | "tcp", rcode: string, seconds: number): void {
    this.results.push({ to, proto, rcode, seconds });
  }
  healthcheckFailure(to: string): void {
    this.checkFailures.push(to);
  }
  allUpstreamsDown(): void {
    this.allDown++;
  }
  maxConcurrentReject(): void {
    this.rejects++;
  }
  tcpConnections(to: string, open: number): void {
    this.conns.set(to, open);
  }
  count(rcode: string): number {
    return this.results.filter((r) => r.rcode === rcode).length;
  }
}

export function forwardConfig(
  to: { host: string; port: number }[],
  o: Partial<ForwardConfig> = {},
): ForwardConfig {
  // sequential, unlike the parser's default, so tests know which upstream is asked first
  return { ...FORWARD_DEFAULTS, from: ".", to, except: [], policy: "sequential", line: 1, ...o };
}

const forwarders: Forwarder[] = [];
let registered = false;

/** A forwarder with a Recorder and a 10 ms timer wheel, closed after the test file. */
export function makeForwarder(cfg: ForwardConfig, tuning: Partial<ForwardTuning> = {}) {
  if (!registered) {
    registered = true;
    after(async () => {
      for (const f of forwarders) await f.close();
    });
  }
  const observer = new Recorder();
  const fwd = new Forwarder(cfg, {
    now: Date.now,
    wheel: new TimerWheel(Date.now, 10),
    observer,
    warn: () => {},
    tuning,
  });
  forwarders.push(fwd);
  return { fwd, observer };
}
