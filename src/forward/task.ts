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

const noUpstreams: readonly Upstream[] = [];

/**
 * The task is the sink of its own exchanges (one at a time), so an attempt allocates no closures:
 * in an outage every task lives until its deadline, and whatever it allocates reaches V8's old
 * generation. Its last failure is put into words only when the task fails.
 */
export class QueryTask implements ExchangeSink {
  private readonly ctx: TaskContext;
  private readonly message: Buffer;
  /** Offset just past the question name: the reply gets the client's spelling up to here. */
  private readonly qnameEnd: number;
  private readonly callback: ForwardCallback;
  /** Handed back to the callback with the outcome (the caller's query: no closure per query). */
  private readonly context: unknown;
  private readonly useTcp: boolean;
  private readonly deadline: number;
  private readonly maxAttempts: number;
  /** The policy's order: the shared upstream list itself unless the policy permutes it. */
  private order: readonly Upstream[] = noUpstreams;
  private next = 0;
  private attempts = 0;
  /** Bumped per exchange (its token) so a late report from an abandoned one is ignored. */
  private seq = 0;
  private current: ExchangeHandle | null = null;
  /** The current (or last) exchange: its upstream, transport and start. */
  private upstream: Upstream | null = null;
  private overTcp = false;
  private started = 0;
  /** The last failed exchange's reason, as the exchange reported it. */
  private lastError = "";
  /** The connections this query used, for the pool to avoid: sized once (an attempt uses at most one). */
  private tried: TcpConnection[] | null = null;
  private triedCount = 0;
  private reportedAllDown = false;
  private done = false;

  constructor(
    ctx: TaskContext,
    message: Buffer,
    qnameEnd: number,
    callback: ForwardCallback,
    useTcp: boolean,
    context: unknown = null,
  ) {
    this.ctx = ctx;
    this.message = message;
    this.qnameEnd = qnameEnd;
    this.callback = callback;
    this.context = context;
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
        reason: `${this.attempts} attempt(s) failed, last: ${this.lastFailure()}`,
      });
      return;
    }
    this.attempts++;
    const upstream = this.pickUpstream();
    const timeout = Math.min(this.ctx.tuning.attemptTimeoutMs, remaining);
    if (this.useTcp || upstream.streamOnly) this.tcp(upstream, timeout);
    else this.udp(upstream, timeout);
  }

  /** What the last failed exchange reported, in words. */
  private lastFailure(): string {
    const upstream = this.upstream;
    if (upstream === null) return "no upstream tried";
    const proto = this.overTcp ? "tcp" : "udp";
    return `${upstream.key}/${proto}: ${this.lastError}`;
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

  /** A new current exchange: its token. */
  private begin(upstream: Upstream, overTcp: boolean): number {
    this.upstream = upstream;
    this.overTcp = overTcp;
    this.started = this.ctx.deps.now();
    return ++this.seq;
  }

  private udp(upstream: Upstream, timeout: number): void {
    const token = this.begin(upstream, false);
    this.current = upstream.udp(this.message, timeout, this, token);
  }

  private tcp(upstream: Upstream, timeout: number): void {
    const token = this.begin(upstream, true);
    const exchange = upstream.pool.exchange(this.message, this, timeout, this.tried, token);
    // At most one TCP exchange per attempt (a truncated UDP reply's retry takes the attempt's place).
    this.tried ??= new Array<TcpConnection>(this.maxAttempts);
    this.tried[this.triedCount++] = exchange.conn;
    this.current = exchange;
  }

  /**
   * The current exchange's outcome, if `token` is still current: it ends, and the observer hears
   * `result` (an rcode name or a FailKind). Its upstream, or null for a stale report.
   */
  private settle(token: number, result: string, detail?: string): Upstream | null {
    if (token !== this.seq || this.done) return null;
    const upstream = this.upstream!;
    this.current = null;
    const seconds = (this.ctx.deps.now() - this.started) / 1000;
    this.ctx.deps.observer.upstreamResult(
      upstream.key,
      this.overTcp ? "tcp" : "udp",
      result,
      seconds,
      detail,
    );
    return upstream;
  }

  /** ExchangeSink: the current exchange's reply. */
  reply(reply: Buffer, token: number): void {
    const upstream = this.settle(token, rcodeName(reply[3]! & 0xf));
    if (upstream === null) return;
    upstream.health.success();
    if (!this.overTcp && (reply.readUInt16BE(2) & FLAG_TC) !== 0) {
      // Truncated: the same upstream over TCP, within this attempt's deadline.
      const left = Math.min(this.ctx.tuning.attemptTimeoutMs, this.deadline - this.ctx.deps.now());
      if (left > 0) {
        this.tcp(upstream, left);
        return;
      }
    }
    reply[0] = this.message[0]!;
    reply[1] = this.message[1]!;
    this.message.copy(reply, HEADER_LENGTH, HEADER_LENGTH, this.qnameEnd);
    this.finish({ kind: "reply", reply, upstream: upstream.key });
  }

  /** ExchangeSink: the current exchange failed; try the next upstream. */
  fail(kind: FailKind, reason: string, token: number): void {
    const upstream = this.settle(token, kind, reason);
    if (upstream === null) return;
    upstream.health.failure();
    this.lastError = reason;
    this.attempt();
  }

  private finish(outcome: ForwardOutcome): void {
    this.done = true;
    this.ctx.finished(this);
    try {
      this.callback(outcome, this.context);
    } catch (err) {
      this.ctx.deps.warn("forward callback threw", { error: String(err) });
    }
  }
}
