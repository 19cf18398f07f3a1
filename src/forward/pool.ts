// The pooled TCP connections to one upstream: a few connections, each pipelining many queries; a
// new one opens when every usable one has `pipelineDepth` outstanding; idle ones close after expire.

import type { Now, TimerHandle, TimerWheel } from "../clock/index.ts";
import type { ExchangeSink } from "./exchange.ts";
import { type Dial, TcpConnection, type TcpExchange, tcpDial } from "./tcp.ts";
import type { ForwardObserver } from "./types.ts";

export interface PoolOptions {
  maxConnections: number;
  pipelineDepth: number;
  /** Idle connection lifetime, ms; <= 0 keeps idle connections until the upstream closes them. */
  expireMs: number;
  /** How each connection is opened (TLS upstreams); plain TCP when omitted. */
  dial?: Dial;
}

export class TcpPool {
  private readonly host: string;
  private readonly port: number;
  private readonly key: string;
  private readonly options: PoolOptions;
  private readonly wheel: TimerWheel;
  private readonly now: Now;
  private readonly observer: ForwardObserver;
  private readonly conns: TcpConnection[] = [];
  private sweeper: TimerHandle | null = null;
  private closed = false;

  constructor(
    host: string,
    port: number,
    key: string,
    options: PoolOptions,
    wheel: TimerWheel,
    now: Now,
    observer: ForwardObserver,
  ) {
    this.host = host;
    this.port = port;
    this.key = key;
    this.options = options;
    this.wheel = wheel;
    this.now = now;
    this.observer = observer;
  }

  get size(): number {
    return this.conns.length;
  }

  get outstanding(): number {
    let n = 0;
    for (const c of this.conns) n += c.outstanding;
    return n;
  }

  /**
   * Send `message` on the least busy usable connection not in `avoid` (the connections this query
   * already tried), opening one when all are busy or avoided. The exchange's `conn` is the one used
   * (until it settles, which is never before this returns: frames are written after the tick).
   */
  exchange(
    message: Buffer,
    sink: ExchangeSink,
    timeoutMs: number,
    avoid: readonly (TcpConnection | null)[] | null,
    token = 0,
    length = message.length,
  ): TcpExchange {
    return this.pick(avoid).send(message, sink, timeoutMs, token, length);
  }

  /** Close every connection; their outstanding queries fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.sweeper?.cancel();
    this.sweeper = null;
    const all = this.conns.slice();
    for (const c of all) c.close();
    await Promise.all(all.map((c) => c.closedPromise()));
  }

  private pick(avoid: readonly (TcpConnection | null)[] | null): TcpConnection {
    let best: TcpConnection | null = null;
    let fallback: TcpConnection | null = null;
    let usable = 0;
    for (const c of this.conns) {
      if (c.draining || c.full) continue;
      usable++;
      if (fallback === null || c.outstanding < fallback.outstanding) fallback = c;
      if (avoid?.includes(c)) continue;
      if (best === null || c.outstanding < best.outstanding) best = c;
    }
    const room = usable < this.options.maxConnections && !this.closed;
    if (best !== null && (best.outstanding < this.options.pipelineDepth || !room)) return best;
    if (room || (best === null && fallback === null)) return this.open();
    return best ?? fallback!;
  }

  private open(): TcpConnection {
    const conn = new TcpConnection(
      this.host,
      this.port,
      this.wheel,
      this.now,
      (c) => this.remove(c),
      this.options.dial ?? tcpDial,
    );
    this.conns.push(conn);
    this.observer.tcpConnections(this.key, this.conns.length);
    if (this.sweeper === null && this.options.expireMs > 0 && !this.closed) this.scheduleSweep();
    return conn;
  }

  private remove(conn: TcpConnection): void {
    const i = this.conns.indexOf(conn);
    if (i < 0) return;
    this.conns.splice(i, 1);
    this.observer.tcpConnections(this.key, this.conns.length);
  }

  private scheduleSweep(): void {
    const every = Math.min(1000, Math.max(50, this.options.expireMs / 4));
    this.sweeper = this.wheel.schedule(every, () => {
      this.sweeper = null;
      const cutoff = this.now() - this.options.expireMs;
      for (const c of this.conns.slice()) {
        if (c.outstanding === 0 && c.lastUsed <= cutoff) c.close();
      }
      if (this.conns.length > 0 && !this.closed) this.scheduleSweep();
    });
  }
}
