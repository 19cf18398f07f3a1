// The read deadlines of one connection's (or upstream's) outstanding queries: a list kept in deadline
// order (links in the entries) and one wheel timer for the earliest. A wheel timer per query
// allocated a slot that stayed in its wheel bucket until due, seconds after the reply: every one was
// promoted. Deadlines mostly come in order (the same timeout each); one that would go far back (a
// retry with the query's remaining time, a probe) gets a wheel timer of its own instead of a walk.

import type { Now, TimerHandle, TimerTarget, TimerWheel } from "../clock/index.ts";

export interface Deadline extends TimerTarget {
  deadline: number;
  prevDue: Deadline | null;
  nextDue: Deadline | null;
  /** Its own timer when added out of order, else null. onTimer() must call the list's fired(). */
  ownTimer: TimerHandle | null;
}

/** How far back from the tail an entry is placed before it gets a timer of its own instead. */
const MAX_WALK = 16;

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

  /** Add `e` (its `deadline` set). */
  add(e: T): void {
    let after = this.tail;
    for (let steps = 0; after !== null && after.deadline > e.deadline; steps++) {
      if (steps === MAX_WALK) {
        e.ownTimer = this.wheel.scheduleTarget(e.deadline - this.now(), e);
        return;
      }
      after = after.prevDue as T | null;
    }
    e.prevDue = after;
    e.nextDue = after === null ? this.head : after.nextDue;
    if (e.nextDue === null) this.tail = e;
    else e.nextDue.prevDue = e;
    if (after === null) this.head = e;
    else after.nextDue = e;
    this.arm();
  }

  /** Take `e` off; the list's timer stays (it finds nothing due, or the next entry, when it fires). */
  remove(e: T): void {
    if (e.ownTimer !== null) {
      e.ownTimer.cancel();
      e.ownTimer = null;
      return;
    }
    if (e.prevDue === null) {
      if (this.head !== e) return; // not on the list
      this.head = e.nextDue as T | null;
    } else e.prevDue.nextDue = e.nextDue;
    if (e.nextDue === null) this.tail = e.prevDue as T | null;
    else e.nextDue.prevDue = e.prevDue;
    e.prevDue = null;
    e.nextDue = null;
  }

  /** `e`'s own timer fired. */
  fired(e: T): void {
    if (e.ownTimer === null) return;
    e.ownTimer = null;
    this.onExpired(e);
  }

  /** Cancel the list's timer (a closed connection, its entries removed). */
  stop(): void {
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
