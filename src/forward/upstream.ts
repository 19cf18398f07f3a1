// One upstream address: its TCP pool, its health, and how to probe it.

import { buildQuery, nameToWire, TYPE } from "../dns/index.ts";
import type { DeadlineList } from "./deadlines.ts";
import { type ExchangeHandle, type ExchangeSink, type PooledHandle, upstreamKey } from "./exchange.ts";
import { Health } from "./health.ts";
import { TcpPool } from "./pool.ts";
import { randomId } from "./random.ts";
import { type Dial, TcpConnection, tcpDial } from "./tcp.ts";
import type { ForwardDeps, ForwardTuning, UpstreamState } from "./types.ts";
import { type UdpExchange, udpDeadlines, udpExchange } from "./udp.ts";

export interface UpstreamOptions {
  host: string;
  port: number;
  forceTcp: boolean;
  maxFails: number;
  expireMs: number;
  healthCheckMs: number;
  healthCheckNoRec: boolean;
  healthCheckDomain: string;
  /** Set for a tls:// upstream: every exchange and probe goes over these connections. */
  tlsDial?: Dial;
}

export class Upstream {
  readonly host: string;
  readonly port: number;
  /** "IP:PORT" as in metrics. */
  readonly key: string;
  readonly pool: TcpPool;
  readonly health: Health;
  /** A tls:// upstream takes no UDP: queries and probes use the pool whatever the client used. */
  readonly streamOnly: boolean;
  private readonly dial: Dial;
  private readonly deps: ForwardDeps;
  private readonly udpDeadlines: DeadlineList<UdpExchange>;

  constructor(options: UpstreamOptions, tuning: ForwardTuning, deps: ForwardDeps) {
    this.host = options.host;
    this.port = options.port;
    this.key = upstreamKey(options.host, options.port);
    this.deps = deps;
    this.udpDeadlines = udpDeadlines(deps.wheel, deps.now);
    this.streamOnly = options.tlsDial !== undefined;
    this.dial = options.tlsDial ?? tcpDial;
    this.pool = new TcpPool(
      options.host,
      options.port,
      this.key,
      {
        maxConnections: tuning.maxConnections,
        pipelineDepth: tuning.pipelineDepth,
        expireMs: options.expireMs,
        dial: this.dial,
      },
      deps.wheel,
      deps.now,
      deps.observer,
    );
    const probe = buildQuery(0, nameToWire(options.healthCheckDomain), TYPE.NS, !options.healthCheckNoRec);
    const useTcp = options.forceTcp || this.streamOnly;
    this.health = new Health(
      options.maxFails,
      options.healthCheckMs,
      deps.wheel,
      (done) => this.probe(probe, useTcp, tuning.probeTimeoutMs, done),
      () => deps.observer.healthcheckFailure(this.key),
    );
  }

  /** An exchange of `message[0, length)` over UDP; `message` must stay unchanged until it settles. */
  udp(message: Buffer, length: number, timeoutMs: number, sink: ExchangeSink, token = 0): PooledHandle {
    return udpExchange(
      this.host,
      this.port,
      message,
      length,
      randomId(),
      timeoutMs,
      this.udpDeadlines,
      this.deps.now(),
      sink,
      token,
    );
  }

  state(): UpstreamState {
    return {
      address: this.key,
      healthy: !this.health.down,
      fails: this.health.fails,
      tcpConnections: this.pool.size,
      tcpOutstanding: this.pool.outstanding,
    };
  }

  async close(): Promise<void> {
    this.health.stop();
    await this.pool.close();
  }

  /** Any reply counts: the upstream is reachable and speaking DNS. TCP probes use their own connection. */
  private probe(query: Buffer, tcp: boolean, timeoutMs: number, done: (ok: boolean) => void): ExchangeHandle {
    const sink: ExchangeSink = {
      reply: () => done(true),
      fail: () => done(false),
    };
    // Exchanges are pooled: cancel only the incarnation started here.
    if (!tcp) {
      const handle = this.udp(query, query.length, timeoutMs, sink);
      const gen = handle.gen;
      return {
        cancel() {
          if (handle.gen === gen) handle.cancel();
        },
      };
    }
    const conn = new TcpConnection(this.host, this.port, this.deps.wheel, this.deps.now, () => {}, this.dial);
    conn.draining = true; // closes itself after this one exchange
    const handle = conn.send(query, sink, timeoutMs);
    const gen = handle.gen;
    return {
      cancel() {
        if (handle.gen === gen) handle.cancel();
        conn.close();
      },
    };
  }
}
