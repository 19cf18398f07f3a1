// One forwarded query: tries upstreams in policy order until one answers, the attempts run out,
// or the deadline passes. Exactly one outcome per task.

import { FLAG_TC, HEADER_LENGTH, rcodeName } from "../dns/index.ts";
import type { ExchangeHandle, ExchangeSink, FailKind } from "./exchange.ts";
import type { Policy } from "./policy.ts";
import type { TcpConnection } from "./tcp.ts";
import type { ForwardCallback, ForwardDeps, ForwardOutcome, ForwardTuning } from "./types.ts";
import type { Upstream } from "./upstream.ts";

export interface TaskContext {
  readonly upstreams: readonly Upstream[];
  readonly policy: Policy<Upstream>;
  readonly tuning: ForwardTuning;
  readonly deps: ForwardDeps;
  finished(task: QueryTask): void;
}

export class QueryTask {
  private readonly ctx: TaskContext;
  private readonly message: Buffer;
  /** Offset just past the question name: the reply gets the client's spelling up to here. */
  private readonly qnameEnd: number;
  private readonly callback: ForwardCallback;
  private readonly useTcp: boolean;
  private readonly deadline: number;
  private readonly maxAttempts: number;
  private order: Upstream[] = [];
  private next = 0;
  private attempts = 0;
  /** Bumped per exchange so a late report from an abandoned one is ignored. */
  private seq = 0;
  private current: ExchangeHandle | null = null;
  private tried: Set<TcpConnection> | null = null;
  private reportedAllDown = false;
  private lastFailure = "no upstream tried";
  private done = false;

  constructor(
    ctx: TaskContext,
    message: Buffer,
    qnameEnd: number,
    callback: ForwardCallback,
    useTcp: boolean,
  ) {
    this.ctx = ctx;
    this.message = message;
    this.qnameEnd = qnameEnd;
    this.callback = callback;
    this.useTcp = useTcp;
    this.deadline = ctx.deps.now() + ctx.tuning.deadlineMs;
    this.maxAttempts = ctx.upstreams.length + 2;
  }

  start(): void {
    this.order = this.ctx.policy.order(this.ctx.upstreams);
    this.attempt();
  }

  /** End now with `failed` (forwarder closing). */
  abort(reason: string): void {
    if (this.done) return;
    this.current?.cancel();
    this.finish({ kind: "failed", reason });
  }

  private attempt(): void {
    if (this.done) return;
    const remaining = this.deadline - this.ctx.deps.now();
    if (remaining <= 0 || this.attempts >= this.maxAttempts) {
      this.finish({
        kind: "failed",
        reason: `${this.attempts} attempt(s) failed, last: ${this.lastFailure}`,
      });
      return;
    }
    this.attempts++;
    const upstream = this.pickUpstream();
    const timeout = Math.min(this.ctx.tuning.attemptTimeoutMs, remaining);
    if (this.useTcp || upstream.streamOnly) this.tcp(upstream, timeout);
    else this.udp(upstream, timeout);
  }

  /** The next upstream in policy order that is not down; when all are down, the next one anyway. */
  private pickUpstream(): Upstream {
    const n = this.order.length;
    for (let k = 0; k < n; k++) {
      const u = this.order[(this.next + k) % n]!;
      if (!u.health.down) {
        this.next = (this.next + k + 1) % n;
        return u;
      }
    }
    if (!this.reportedAllDown) {
      this.reportedAllDown = true;
      this.ctx.deps.observer.allUpstreamsDown();
    }
    const u = this.order[this.next % n]!;
    this.next = (this.next + 1) % n;
    return u;
  }

  private udp(upstream: Upstream, timeout: number): void {
    const started = this.ctx.deps.now();
    this.current = upstream.udp(
      this.message,
      timeout,
      this.sink(upstream, "udp", started, (reply) => {
        if ((reply.readUInt16BE(2) & FLAG_TC) === 0) return false;
        // Truncated: the same upstream over TCP, within this attempt's deadline.
        const left = Math.min(this.ctx.tuning.attemptTimeoutMs, this.deadline - this.ctx.deps.now());
        if (left <= 0) return false;
        this.tcp(upstream, left);
        return true;
      }),
    );
  }

  private tcp(upstream: Upstream, timeout: number): void {
    const started = this.ctx.deps.now();
    this.tried ??= new Set();
    const { handle, conn } = upstream.pool.exchange(
      this.message,
      this.sink(upstream, "tcp", started, () => false),
      timeout,
      this.tried,
    );
    this.tried.add(conn);
    this.current = handle;
  }

  /** `redirect` may take over a reply (TC=1); it returns true when it did. */
  private sink(
    upstream: Upstream,
    proto: "udp" | "tcp",
    started: number,
    redirect: (reply: Buffer) => boolean,
  ): ExchangeSink {
    const seq = ++this.seq;
    const observer = this.ctx.deps.observer;
    const seconds = () => (this.ctx.deps.now() - started) / 1000;
    return {
      reply: (reply) => {
        if (seq !== this.seq || this.done) return;
        this.current = null;
        observer.upstreamResult(upstream.key, proto, rcodeName(reply[3]! & 0xf), seconds());
        upstream.health.success();
        if (redirect(reply)) return;
        reply[0] = this.message[0]!;
        reply[1] = this.message[1]!;
        this.message.copy(reply, HEADER_LENGTH, HEADER_LENGTH, this.qnameEnd);
        this.finish({ kind: "reply", reply, upstream: upstream.key });
      },
      fail: (kind: FailKind, reason: string) => {
        if (seq !== this.seq || this.done) return;
        this.current = null;
        observer.upstreamResult(upstream.key, proto, kind, seconds(), reason);
        upstream.health.failure();
        this.lastFailure = `${upstream.key}/${proto}: ${reason}`;
        this.attempt();
      },
    };
  }

  private finish(outcome: ForwardOutcome): void {
    this.done = true;
    this.ctx.finished(this);
    try {
      this.callback(outcome);
    } catch (err) {
      this.ctx.deps.warn("forward callback threw", { error: String(err) });
    }
  }
}
