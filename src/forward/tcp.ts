// One TCP connection to an upstream with many queries pipelined on it (RFC 7766): each query gets
// a random ID unique on this connection, replies may come in any order.

import { connect, type Socket } from "node:net";
import type { Now, TimerHandle, TimerWheel } from "../clock/index.ts";
import { FLAG_QR, HEADER_LENGTH, replyMatchesQuery } from "../dns/index.ts";
import { BatchWriter } from "./batch.ts";
import { type Deadline, DeadlineList } from "./deadlines.ts";
import { type ExchangeSink, type PooledHandle, timeoutReason } from "./exchange.ts";
import { FrameReader, type FrameSink } from "./frame.ts";
import { IdTable } from "./idtable.ts";

/**
 * One query outstanding on a connection: its table entry, its handle and its place in the deadline
 * list in one object, so an exchange allocates no closures (in an outage thousands wait seconds each). Reused
 * once settled (a query's objects live about one scavenge interval, so fresh ones were promoted);
 * `gen` changes on every release, so a holder of an old incarnation can tell.
 */
export class TcpExchange implements PooledHandle, Deadline {
  conn: TcpConnection | null = null;
  id = 0;
  /** The query as sent (its ID aside); only [0, its length) is meaningful. */
  query: Buffer = EMPTY;
  sink: ExchangeSink | null = null;
  token = 0;
  timeoutMs = 0;
  sentAt = 0;
  deadline = 0;
  prevDue: Deadline | null = null;
  nextDue: Deadline | null = null;
  ownTimer: TimerHandle | null = null;
  gen = 0;

  cancel(): void {
    this.conn?.cancel(this);
  }

  onTimer(): void {
    this.conn?.timerFired(this);
  }
}

const EMPTY = Buffer.alloc(0);
/** Settled exchanges kept for reuse; beyond this (an outage's burst) they are left to the GC. */
const MAX_SPARE = 4096;
const spare: TcpExchange[] = [];

function release(e: TcpExchange): void {
  e.gen = (e.gen + 1) & 0x3fffffff;
  e.conn = null;
  e.query = EMPTY;
  e.sink = null;
  if (spare.length < MAX_SPARE) spare.push(e);
}

/** Outstanding queries above which a connection takes no more (IDs stay easy to find). */
const MAX_OUTSTANDING = 4096;

/** Opens the stream a connection pipelines on: plain TCP here, TLS in tls.ts. */
export type Dial = (host: string, port: number) => Socket;

export const tcpDial: Dial = (host, port) => connect({ host, port, noDelay: true });

export class TcpConnection implements FrameSink {
  private readonly socket: Socket;
  private readonly pending = new IdTable<TcpExchange>(MAX_OUTSTANDING);
  private readonly reader = new FrameReader();
  private readonly writer: BatchWriter;
  private readonly deadlines: DeadlineList<TcpExchange>;
  private readonly now: Now;
  private readonly onClosed: (conn: TcpConnection) => void;
  /** Last send or reply, for idle expiry. */
  lastUsed: number;
  /** Last reply read; a timeout with nothing read since its query was sent marks us stuck. */
  private lastReadAt = -1;
  /** Takes no new queries; closes once the outstanding ones are answered or timed out. */
  draining = false;
  closed = false;
  private closeReason = "connection closed";

  constructor(
    host: string,
    port: number,
    wheel: TimerWheel,
    now: Now,
    onClosed: (c: TcpConnection) => void,
    dial: Dial = tcpDial,
  ) {
    this.deadlines = new DeadlineList(wheel, now, (e) => this.expire(e));
    this.now = now;
    this.onClosed = onClosed;
    this.lastUsed = now();
    this.socket = dial(host, port);
    this.writer = new BatchWriter(this.socket);
    this.socket.on("data", (chunk: Buffer) => this.reader.feed(chunk, this));
    this.socket.on("end", () => this.socket.destroy());
    this.socket.on("error", (err) => {
      this.closeReason = err.message;
    });
    this.socket.on("close", () => this.onClose());
  }

  get outstanding(): number {
    return this.pending.size;
  }

  get full(): boolean {
    return this.pending.size >= MAX_OUTSTANDING;
  }

  /**
   * Send `message[0, length)` (its ID is replaced) and report to `sink` (with `token`) within
   * `timeoutMs`. `message` must stay unchanged until the exchange settles (its question is compared
   * with the reply's); the bytes sent are copied.
   */
  send(
    message: Buffer,
    sink: ExchangeSink,
    timeoutMs: number,
    token = 0,
    length = message.length,
  ): TcpExchange {
    const id = this.pending.freeId();
    const now = this.now();
    const entry = spare.pop() ?? new TcpExchange();
    entry.conn = this;
    entry.id = id;
    entry.query = message;
    entry.sink = sink;
    entry.token = token;
    entry.timeoutMs = timeoutMs;
    entry.sentAt = now;
    entry.deadline = now + timeoutMs;
    this.deadlines.add(entry);
    this.pending.add(entry);
    this.lastUsed = now;
    this.writer.frame(message, length, id);
    return entry;
  }

  /** Stop waiting for `entry`; its sink hears nothing more. */
  cancel(entry: TcpExchange): void {
    if (entry.conn !== this || !this.pending.remove(entry)) return;
    this.deadlines.remove(entry);
    release(entry);
    this.retireIfDone();
  }

  /** Close now; outstanding queries fail with "error". */
  close(): void {
    this.draining = true;
    this.socket.destroy();
  }

  /** Resolves once the socket is gone. */
  closedPromise(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("close", () => resolve()));
  }

  /** FrameSink: one reply, [start, end) of `buf`. */
  onFrame(buf: Buffer, start: number, end: number): void {
    if (end - start < HEADER_LENGTH) return;
    const entry = this.pending.get((buf[start]! << 8) | buf[start + 1]!);
    if (entry === null) return; // late reply to a query that timed out here
    if ((buf[start + 2]! & (FLAG_QR >> 8)) === 0) return;
    // A copy: the caller keeps it, and the frame may share a large read buffer.
    const reply = Buffer.allocUnsafe(end - start);
    buf.copy(reply, 0, start, end);
    if (!replyMatchesQuery(reply, entry.query)) return;
    this.pending.remove(entry);
    this.deadlines.remove(entry);
    const sink = entry.sink!;
    const token = entry.token;
    release(entry);
    const now = this.now();
    this.lastReadAt = now;
    this.lastUsed = now;
    sink.reply(reply, token);
    this.retireIfDone();
  }

  /** `entry`'s own timer (see DeadlineList) fired. */
  timerFired(entry: TcpExchange): void {
    this.deadlines.fired(entry);
  }

  /** `entry`'s deadline passed (the list has taken it off). */
  private expire(entry: TcpExchange): void {
    if (!this.pending.remove(entry)) return;
    const sink = entry.sink!;
    const token = entry.token;
    const timeoutMs = entry.timeoutMs;
    // Nothing read since this query went out: the peer behind this connection looks stuck, so
    // new queries go elsewhere; queries already here keep their chance until their own timeout.
    if (this.lastReadAt < entry.sentAt) this.draining = true;
    release(entry);
    this.retireIfDone();
    sink.fail("timeout", timeoutReason("tcp", timeoutMs), token);
  }

  private retireIfDone(): void {
    if (this.draining && this.pending.size === 0 && !this.closed) this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.onClosed(this);
    this.deadlines.stop();
    for (const entry of this.pending.drain()) {
      this.deadlines.remove(entry);
      const sink = entry.sink!;
      const token = entry.token;
      release(entry);
      sink.fail("error", this.closeReason, token);
    }
  }
}
