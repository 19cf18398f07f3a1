// One forwarded query: tries upstreams in policy order until one answers, the attempts run out,
// or the deadline passes. Exactly one outcome per task.

import { FLAG_TC, HEADER_LENGTH, rcodeName } from "../dns/index.ts";
import type { ExchangeSink, FailKind, PooledHandle } from "./exchange.ts";
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
const noCallback: ForwardCallback = () => {};
const EMPTY = Buffer.alloc(0);
/** A task's own copy of the query (kept while the task waits for reuse): most queries fit. */
const MESSAGE_BYTES = 128;

/**
 * The task is the sink of its own exchanges (one at a time), so an attempt allocates no closures:
 * in an outage every task lives until its deadline, and whatever it allocates reaches V8's old
 * generation. Its last failure is put into words only when the task fails. Tasks are reused (see
 * Forwarder): `seq` keeps counting across uses, so a report carrying an earlier use's token is stale.
 */
export class QueryTask implements ExchangeSink {
  private readonly ctx: TaskContext;
  /** The query's bytes in [0, length): a buffer kept across uses, so a miss copies without allocating. */
  private message: Buffer = EMPTY;
  private length = 0;
  /** Offset just past the question name: the reply gets the client's spelling up to here. */
  private qnameEnd = 0;
  private callback: ForwardCallback = noCallback;
  /** Handed back to the callback with the outcome (the caller's query: no closure per query). */
  private context: unknown = null;
  private useTcp = false;
  private deadline = 0;
  private readonly maxAttempts: number;
  /** The policy's order: the shared upstream list itself unless the policy permutes it. */
  private order: readonly Upstream[] = noUpstreams;
  private next = 0;
  private attempts = 0;
  /** Bumped per exchange (its token) so a late report from an abandoned one is ignored. */
  private seq = 0;
  /** The current exchange and its `gen` when started: it is pooled, and may be someone else's by now. */
  private current: PooledHandle | null = null;
  private currentGen = 0;
  /** The current (or last) exchange: its upstream, transport and start. */
  private upstream: Upstream | null = null;
  private overTcp = false;
  private started = 0;
  /** The last failed exchange's reason, as the exchange reported it. */
  private lastError = "";
  /** The connections this query used, for the pool to avoid: sized once (an attempt uses at most one). */
  private tried: (TcpConnection | null)[] | null = null;
  private triedCount = 0;
  private reportedAllDown = false;
  private done = true;
  /** Its place in the forwarder's in-flight list, -1 when not in flight. */
  index = -1;

  constructor(ctx: TaskContext) {
    this.ctx = ctx;
    this.maxAttempts = ctx.upstreams.length + 2;
  }

  /** Take a new query: `message` is copied (the caller may reuse it once this returns). */
  init(
    message: Buffer,
    qnameEnd: number,
    callback: ForwardCallback,
    useTcp: boolean,
    context: unknown,
  ): void {
    if (this.message.length < message.length)
      this.message = Buffer.allocUnsafeSlow(Math.max(MESSAGE_BYTES, (message.length + 63) & ~63));
    message.copy(this.message);
    this.length = message.length;
    this.qnameEnd = qnameEnd;
    this.callback = callback;
    this.context = context;
    this.useTcp = useTcp;
    this.deadline = this.ctx.deps.now() + this.ctx.tuning.deadlineMs;
    this.next = 0;
    this.attempts = 0;
    this.triedCount = 0;
    this.reportedAllDown = false;
    this.done = false;
  }

  start(): void {
    this.order = this.ctx.policy.order(this.ctx.upstreams);
    this.attempt();
  }

  /** End now with `failed` (forwarder closing). */
  abort(reason: string): void {
    if (this.done) return;
    const current = this.current;
    if (current !== null && current.gen === this.currentGen) current.cancel();
    this.current = null;
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
    this.seq = (this.seq + 1) & 0x3fffffff; // stays a small integer; never repeats within a use
    return this.seq;
  }

  private udp(upstream: Upstream, timeout: number): void {
    const token = this.begin(upstream, false);
    const exchange = upstream.udp(this.message, this.length, timeout, this, token);
    this.current = exchange;
    this.currentGen = exchange.gen;
  }

  private tcp(upstream: Upstream, timeout: number): void {
    const token = this.begin(upstream, true);
    const exchange = upstream.pool.exchange(this.message, this, timeout, this.avoid(), token, this.length);
    // At most one TCP exchange per attempt (a truncated UDP reply's retry takes the attempt's place).
    this.tried ??= new Array<TcpConnection | null>(this.maxAttempts).fill(null);
    this.tried[this.triedCount++] = exchange.conn;
    this.current = exchange;
    this.currentGen = exchange.gen;
  }

  /** The connections to avoid: none on a first try (the array is kept across uses, with stale entries). */
  private avoid(): readonly (TcpConnection | null)[] | null {
    return this.triedCount === 0 ? null : this.tried;
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

  /** Report once; the task is released first (the callback may start a query that reuses it). */
  private finish(outcome: ForwardOutcome): void {
    const callback = this.callback;
    const context = this.context;
    this.done = true;
    this.current = null;
    this.callback = noCallback;
    this.context = null;
    this.order = noUpstreams;
    this.upstream = null;
    this.lastError = "";
    if (this.tried !== null) this.tried.fill(null);
    this.ctx.finished(this);
    try {
      callback(outcome, context);
    } catch (err) {
      this.ctx.deps.warn("forward callback threw", { error: String(err) });
    }
  }
}
