// Time is passed in, so tests control it; timeouts share one coarse timer wheel instead of a
// setTimeout per query.

export type Now = () => number;

export const systemNow: Now = () => Date.now();

export interface TimerHandle {
  cancel(): void;
}

/** An object that is its own timer callback: no closure per timer (per-query timeouts). */
export interface TimerTarget {
  onTimer(): void;
}

/** One scheduled timer, and its own handle: one object per timer, no closure. */
class Slot implements TimerHandle {
  readonly due: number;
  fn: (() => void) | null;
  target: TimerTarget | null;
  private readonly wheel: TimerWheel;

  constructor(wheel: TimerWheel, due: number, fn: (() => void) | null, target: TimerTarget | null) {
    this.wheel = wheel;
    this.due = due;
    this.fn = fn;
    this.target = target;
  }

  get live(): boolean {
    return this.fn !== null || this.target !== null;
  }

  cancel(): void {
    if (!this.live) return;
    this.fn = null;
    this.target = null;
    this.wheel.cancelled();
  }
}

/**
 * A hashed timer wheel with a fixed tick. Each timer goes to the bucket of the first tick at or
 * after its due time, counted in absolute ticks (not from the cursor, which lags whenever the event
 * loop is busy: a timer placed relative to a stale cursor reached its bucket early, was kept "for
 * the next turn" and fired a whole revolution late). A timer never fires early and, while the
 * event loop keeps up, at most one tick late: thousands of query timeouts cost one interval timer.
 */
export class TimerWheel {
  readonly tickMs: number;
  private readonly buckets: Slot[][];
  /** The last tick (absolute: time / tickMs) whose bucket has been run. */
  private doneTick: number;
  private count = 0;
  private interval: NodeJS.Timeout | null = null;
  private readonly now: Now;
  private readonly onError: (error: unknown) => void;

  /** `onError` hears a callback that threw; the other timers still run. */
  constructor(now: Now = systemNow, tickMs = 25, size = 512, onError: (error: unknown) => void = () => {}) {
    this.now = now;
    this.tickMs = tickMs;
    this.buckets = Array.from({ length: size }, () => []);
    this.doneTick = Math.floor(now() / tickMs);
    this.onError = onError;
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    return this.add(new Slot(this, this.now() + Math.max(0, delayMs), fn, null));
  }

  /** Like schedule, calling `target.onTimer()`: the per-query form, which allocates one object. */
  scheduleTarget(delayMs: number, target: TimerTarget): TimerHandle {
    return this.add(new Slot(this, this.now() + Math.max(0, delayMs), null, target));
  }

  /** A slot's cancel() took it out of the count. */
  cancelled(): void {
    this.count--;
  }

  private add(slot: Slot): Slot {
    // Never into a bucket already run: that one would wait a whole revolution.
    const tick = Math.max(Math.ceil(slot.due / this.tickMs), this.doneTick + 1);
    this.buckets[tick % this.buckets.length]!.push(slot);
    this.count++;
    if (this.interval === null) this.start();
    return slot;
  }

  get pending(): number {
    return this.count;
  }

  /** Run every timer now due; public so tests with a fake clock can drive it. */
  advance(): void {
    const now = this.now();
    const target = Math.floor(now / this.tickMs);
    const size = this.buckets.length;
    // Behind by more than a revolution: every bucket is visited once, firing all that is due.
    let tick = Math.max(this.doneTick + 1, target - size + 1);
    for (; tick <= target; tick++) {
      const index = tick % size;
      const bucket = this.buckets[index]!;
      // Timers that the callbacks below schedule land after this tick, never in a bucket already run.
      this.doneTick = tick;
      if (bucket.length === 0) continue;
      let keep: Slot[] | null = null;
      this.buckets[index] = [];
      for (const slot of bucket) {
        if (!slot.live) continue;
        if (slot.due > now) {
          if (keep === null) keep = [];
          keep.push(slot); // due in a later revolution
          continue;
        }
        const fn = slot.fn;
        const target = slot.target;
        slot.fn = null;
        slot.target = null;
        this.count--;
        try {
          if (fn !== null) fn();
          else target!.onTimer();
        } catch (error) {
          this.onError(error);
        }
      }
      if (keep !== null) this.buckets[index]!.push(...keep);
    }
    this.doneTick = target;
    if (this.count === 0) this.stop();
  }

  private start(): void {
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
