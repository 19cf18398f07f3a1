// A polling timer with jitter (CoreDNS reload: every INTERVAL, randomised by up to JITTER/2 either
// way), one tick at a time: the next is scheduled only after the previous finished.

export interface PollerOptions {
  intervalMs: number;
  jitterMs: number;
  tick: () => Promise<void> | void;
  onError: (error: unknown) => void;
  random?: () => number;
}

export class Poller {
  private intervalMs: number;
  private jitterMs: number;
  private readonly o: PollerOptions;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(o: PollerOptions) {
    this.o = o;
    this.intervalMs = o.intervalMs;
    this.jitterMs = o.jitterMs;
    this.random = o.random ?? Math.random;
  }

  /** The delay before the next tick: interval ± jitter/2. */
  nextDelay(): number {
    return Math.max(0, Math.round(this.intervalMs + (this.random() - 0.5) * this.jitterMs));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** New interval and jitter, effective from the next scheduling. */
  configure(intervalMs: number, jitterMs: number): void {
    if (intervalMs === this.intervalMs && jitterMs === this.jitterMs) return;
    this.intervalMs = intervalMs;
    this.jitterMs = jitterMs;
    if (this.running && this.timer !== null) {
      clearTimeout(this.timer);
      this.schedule();
    }
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      Promise.resolve()
        .then(() => this.o.tick())
        .catch((error: unknown) => this.o.onError(error))
        .finally(() => {
          if (this.running) this.schedule();
        });
    }, this.nextDelay());
    this.timer.unref();
  }
}
