// The read deadlines of one connection's outstanding queries: a list kept in deadline order (links
// in the entries) and one wheel timer for the earliest. A wheel timer per query allocated a slot
// that stayed in its wheel bucket until due, seconds after the reply: every one was promoted.

import type { Now, TimerHandle, TimerTarget, TimerWheel } from "../clock/index.ts";

export interface Deadline {
  deadline: number;
  prevDue: Deadline | null;
  nextDue: Deadline | null;
}

export class DeadlineList<T extends Deadline> implements TimerTarget {
  private head: T | null = null;
  private tail: T | null = null;
  private timer: TimerHandle | null = null;
  private timerDue = 0;
  private readonly wheel: TimerWheel;
  private readonly now: Now;
  private readonly onExpired: (entry: T) => void;

  /** `onExpired` hears each entry whose deadline passed, already taken off the list. */
  constructor(wheel: TimerWheel, now: Now, onExpired: (entry: T) => void) {
    this.wheel = wheel;
    this.now = now;
    this.onExpired = onExpired;
  }

  /** Add `e` (its `deadline` set). Deadlines mostly come in order, so the walk from the tail is short. */
  add(e: T): void {
    let after = this.tail;
    while (after !== null && after.deadline > e.deadline) after = after.prevDue as T | null;
    e.prevDue = after;
    e.nextDue = after === null ? this.head : after.nextDue;
    if (e.nextDue === null) this.tail = e;
    else e.nextDue.prevDue = e;
    if (after === null) this.head = e;
    else after.nextDue = e;
    this.arm();
  }

  /** Take `e` off; the timer stays (it finds nothing due, or the next entry, when it fires). */
  remove(e: T): void {
    if (e.prevDue === null) {
      if (this.head !== e) return; // not on the list
      this.head = e.nextDue as T | null;
    } else e.prevDue.nextDue = e.nextDue;
    if (e.nextDue === null) this.tail = e.prevDue as T | null;
    else e.nextDue.prevDue = e.prevDue;
    e.prevDue = null;
    e.nextDue = null;
  }

  /** Forget every entry and the timer (a closed connection). */
  clear(): void {
    for (let e = this.head; e !== null; ) {
      const next = e.nextDue as T | null;
      e.prevDue = null;
      e.nextDue = null;
      e = next;
    }
    this.head = null;
    this.tail = null;
    this.timer?.cancel();
    this.timer = null;
  }

  onTimer(): void {
    this.timer = null;
    try {
      const now = this.now();
      for (let e = this.head; e !== null && e.deadline <= now; e = this.head) {
        this.remove(e);
        this.onExpired(e);
      }
    } finally {
      this.arm();
    }
  }

  /** A timer for the head's deadline unless one fires by then already. */
  private arm(): void {
    const head = this.head;
    if (head === null || (this.timer !== null && this.timerDue <= head.deadline)) return;
    this.timer?.cancel();
    this.timerDue = head.deadline;
    this.timer = this.wheel.scheduleTarget(head.deadline - this.now(), this);
  }
}
