// Time is passed in, so tests control it; timeouts share one coarse timer wheel instead of a
// setTimeout per query.

export type Now = () => number;

export const systemNow: Now = () => Date.now();

export interface TimerHandle {
  cancel(): void;
}

interface Slot {
  due: number;
  fn: (() => void) | null;
}

/**
 * A hashed timer wheel with a fixed tick. Firing may be late by up to one tick; that is the point:
 * thousands of query timeouts cost one interval timer.
 */
export class TimerWheel {
  readonly tickMs: number;
  private readonly buckets: Slot[][];
  private cursor = 0;
  private lastTick: number;
  private count = 0;
  private interval: NodeJS.Timeout | null = null;
  private readonly now: Now;

  constructor(now: Now = systemNow, tickMs = 25, size = 512) {
    this.now = now;
    this.tickMs = tickMs;
    this.buckets = Array.from({ length: size }, () => []);
    this.lastTick = now();
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const slot: Slot = { due: this.now() + delayMs, fn };
    const ticks = Math.max(1, Math.ceil(delayMs / this.tickMs));
    const index = (this.cursor + Math.min(ticks, this.buckets.length - 1)) % this.buckets.length;
    this.buckets[index]!.push(slot);
    this.count++;
    if (this.interval === null) this.start();
    return {
      cancel: () => {
        if (slot.fn !== null) {
          slot.fn = null;
          this.count--;
        }
      },
    };
  }

  get pending(): number {
    return this.count;
  }

  /** Advance the wheel to the current time; public so tests with a fake clock can drive it. */
  advance(): void {
    const now = this.now();
    while (this.lastTick + this.tickMs <= now) {
      this.lastTick += this.tickMs;
      this.cursor = (this.cursor + 1) % this.buckets.length;
      const bucket = this.buckets[this.cursor]!;
      if (bucket.length === 0) continue;
      const keep: Slot[] = [];
      for (const slot of bucket) {
        if (slot.fn === null) continue;
        if (slot.due > now + this.tickMs) {
          keep.push(slot); // a delay longer than one revolution: stays for another turn
          continue;
        }
        const fn = slot.fn;
        slot.fn = null;
        this.count--;
        fn();
      }
      this.buckets[this.cursor] = keep;
    }
    if (this.count === 0) this.stop();
  }

  private start(): void {
    this.lastTick = this.now();
    this.interval = setInterval(() => this.advance(), this.tickMs);
    this.interval.unref();
  }

  private stop(): void {
    if (this.interval !== null) {
      clearInterval(this.interval);
      this.interval = null;
    }
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] = [];
  }
}
