// Upstream health (CoreDNS forward): consecutive failures mark an upstream down once they reach
// max_fails; a failure starts probes every health_check interval until any reply brings it back.

import type { TimerHandle, TimerWheel } from "../clock/index.ts";
import type { ExchangeHandle } from "./exchange.ts";

/** Starts one probe; calls `done(true)` on any reply, `done(false)` on timeout or error. */
export type Prober = (done: (ok: boolean) => void) => ExchangeHandle;

export class Health {
  private readonly maxFails: number;
  private readonly intervalMs: number;
  private readonly wheel: TimerWheel;
  private readonly prober: Prober;
  private readonly onProbeFailure: () => void;
  /** Consecutive failed exchanges and probes since the last reply. */
  fails = 0;
  private probing = false;
  private timer: TimerHandle | null = null;
  private probe: ExchangeHandle | null = null;
  private stopped = false;

  constructor(
    maxFails: number,
    intervalMs: number,
    wheel: TimerWheel,
    prober: Prober,
    onProbeFailure: () => void,
  ) {
    this.maxFails = maxFails;
    this.intervalMs = intervalMs;
    this.wheel = wheel;
    this.prober = prober;
    this.onProbeFailure = onProbeFailure;
  }

  /** Tracking is off with max_fails 0 or without probes (nothing could bring it back). */
  get enabled(): boolean {
    return this.maxFails > 0 && this.intervalMs > 0;
  }

  get down(): boolean {
    return this.enabled && this.fails >= this.maxFails;
  }

  /** An exchange got a reply. */
  success(): void {
    this.fails = 0;
  }

  /** An exchange timed out or failed: count it and start probing. */
  failure(): void {
    if (!this.enabled || this.stopped) return;
    this.fails++;
    if (!this.probing) {
      this.probing = true;
      this.runProbe();
    }
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.probe?.cancel();
    this.probe = null;
  }

  private runProbe(): void {
    this.timer = null;
    if (this.stopped) return;
    this.probe = this.prober((ok) => {
      this.probe = null;
      if (this.stopped) return;
      if (ok) {
        this.fails = 0;
        this.probing = false;
        return;
      }
      this.fails++;
      this.onProbeFailure();
      this.timer = this.wheel.schedule(this.intervalMs, () => this.runProbe());
    });
  }
}
