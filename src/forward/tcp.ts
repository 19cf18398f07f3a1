// One TCP connection to an upstream with many queries pipelined on it (RFC 7766): each query gets
// a random ID unique on this connection, replies may come in any order.

import { connect, type Socket } from "node:net";
import type { Now, TimerHandle, TimerTarget, TimerWheel } from "../clock/index.ts";
import { FLAG_QR, HEADER_LENGTH, replyMatchesQuery } from "../dns/index.ts";
import { type ExchangeHandle, type ExchangeSink, timeoutReason } from "./exchange.ts";
import { encodeFrame, FrameReader } from "./frame.ts";
import { randomId } from "./random.ts";

/**
 * One query outstanding on a connection: its map entry, its handle and its timer's target in one
 * object, so an exchange allocates no closures (in an outage thousands wait seconds each).
 */
export class TcpExchange implements ExchangeHandle, TimerTarget {
  readonly conn: TcpConnection;
  readonly id: number;
  readonly query: Buffer;
  readonly sink: ExchangeSink;
  readonly token: number;
  readonly timeoutMs: number;
  readonly sentAt: number;
  timer: TimerHandle = noTimer;

  constructor(
    conn: TcpConnection,
    id: number,
    query: Buffer,
    sink: ExchangeSink,
    token: number,
    timeoutMs: number,
    sentAt: number,
  ) {
    this.conn = conn;
    this.id = id;
    this.query = query;
    this.sink = sink;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.sentAt = sentAt;
  }

  cancel(): void {
    this.conn.cancel(this);
  }

  onTimer(): void {
    this.conn.expire(this);
  }
}

/** Outstanding queries above which a connection takes no more (IDs stay easy to find). */
const MAX_OUTSTANDING = 4096;

/** Opens the stream a connection pipelines on: plain TCP here, TLS in tls.ts. */
export type Dial = (host: string, port: number) => Socket;

export const tcpDial: Dial = (host, port) => connect({ host, port, noDelay: true });

export class TcpConnection {
  private readonly socket: Socket;
  private readonly pending = new Map<number, TcpExchange>();
  private readonly reader = new FrameReader();
  private readonly wheel: TimerWheel;
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
    this.wheel = wheel;
    this.now = now;
    this.onClosed = onClosed;
    this.lastUsed = now();
    this.socket = dial(host, port);
    this.socket.on("data", (chunk: Buffer) => this.reader.push(chunk, (frame) => this.onFrame(frame)));
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

  private corked = false;

  /**
   * Frames written while the event loop reads a burst of queries leave in one writev after it
   * (setImmediate runs once the poll phase is done) instead of one syscall each.
   */
  private write(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  /** Send `message` (its ID is replaced) and report to `sink` (with `token`) within `timeoutMs`. */
  send(message: Buffer, sink: ExchangeSink, timeoutMs: number, token = 0): TcpExchange {
    let id = randomId();
    while (this.pending.has(id)) id = randomId();
    const now = this.now();
    const entry = new TcpExchange(this, id, message, sink, token, timeoutMs, now);
    entry.timer = this.wheel.scheduleTarget(timeoutMs, entry);
    this.pending.set(id, entry);
    this.lastUsed = now;
    this.write(encodeFrame(message, id));
    return entry;
  }

  /** Stop waiting for `entry`; its sink hears nothing more. */
  cancel(entry: TcpExchange): void {
    if (this.pending.get(entry.id) !== entry) return;
    this.pending.delete(entry.id);
    entry.timer.cancel();
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

  private onFrame(frame: Buffer): void {
    if (frame.length < HEADER_LENGTH) return;
    const entry = this.pending.get((frame[0]! << 8) | frame[1]!);
    if (entry === undefined) return; // late reply to a query that timed out here
    if ((frame[2]! & (FLAG_QR >> 8)) === 0 || !replyMatchesQuery(frame, entry.query)) return;
    this.pending.delete(entry.id);
    entry.timer.cancel();
    const now = this.now();
    this.lastReadAt = now;
    this.lastUsed = now;
    // A copy: the frame may share a large read buffer the caller should not keep alive.
    entry.sink.reply(Buffer.from(frame), entry.token);
    this.retireIfDone();
  }

  /** `entry`'s timer fired. */
  expire(entry: TcpExchange): void {
    if (this.pending.get(entry.id) !== entry) return;
    this.pending.delete(entry.id);
    entry.timer = noTimer;
    // Nothing read since this query went out: the peer behind this connection looks stuck, so
    // new queries go elsewhere; queries already here keep their chance until their own timeout.
    if (this.lastReadAt < entry.sentAt) this.draining = true;
    this.retireIfDone();
    entry.sink.fail("timeout", timeoutReason("tcp", entry.timeoutMs), entry.token);
  }

  private retireIfDone(): void {
    if (this.draining && this.pending.size === 0 && !this.closed) this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.onClosed(this);
    const orphans = [...this.pending.values()];
    this.pending.clear();
    for (const entry of orphans) {
      entry.timer.cancel();
      entry.sink.fail("error", this.closeReason, entry.token);
    }
  }
}

const noTimer: TimerHandle = { cancel() {} };
