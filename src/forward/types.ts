// The contract between the server chain and the upstream forwarder.

import type { Now, TimerWheel } from "../clock/index.ts";

export type ForwardOutcome =
  /** An upstream answered; `reply` carries the caller's original ID. */
  | { kind: "reply"; reply: Buffer; upstream: string }
  /** Every upstream failed or timed out within the deadline: answer SERVFAIL. */
  | { kind: "failed"; reason: string }
  /** max_concurrent exceeded: answer REFUSED. */
  | { kind: "refused" };

/** `context` is what the caller passed to Forwarder.query (so it needs no closure per query). */
export type ForwardCallback = (outcome: ForwardOutcome, context: unknown) => void;

/** What the forwarder reports; the metrics module implements it. */
export interface ForwardObserver {
  /** One upstream exchange finished (rcode name, or "timeout"/"error" with what went wrong). */
  upstreamResult(to: string, proto: "udp" | "tcp", rcode: string, seconds: number, detail?: string): void;
  healthcheckFailure(to: string): void;
  allUpstreamsDown(): void;
  maxConcurrentReject(): void;
  /** Pooled TCP connections currently open to `to`. */
  tcpConnections(to: string, open: number): void;
}

export interface ForwardDeps {
  now: Now;
  wheel: TimerWheel;
  observer: ForwardObserver;
  /** Log a problem (rate-limited by the caller). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Override internal timeouts and pool sizes (tests); CoreDNS-like defaults otherwise. */
  tuning?: Partial<ForwardTuning>;
}

/** Transport a query arrived on; decides UDP vs TCP upstream unless force_tcp/prefer_udp say otherwise. */
export type ClientProto = "udp" | "tcp";

/** Internal knobs with CoreDNS-like defaults; tests shorten them. */
export interface ForwardTuning {
  /** Per-attempt read timeout, ms (CoreDNS 2 s). */
  attemptTimeoutMs: number;
  /** Overall deadline per query, ms (CoreDNS 5 s). */
  deadlineMs: number;
  /** Health probe timeout, ms (CoreDNS 1 s). */
  probeTimeoutMs: number;
  /** Most pooled TCP connections per upstream. */
  maxConnections: number;
  /** Outstanding queries on every pooled connection before another one is opened. */
  pipelineDepth: number;
}

/** One upstream as `Forwarder.upstreams()` reports it. */
export interface UpstreamState {
  /** "IP:PORT" ("[IPv6]:PORT"), as in metric labels. */
  address: string;
  healthy: boolean;
  /** Consecutive failed exchanges and probes since the last reply. */
  fails: number;
  /** Pooled TCP connections currently open. */
  tcpConnections: number;
  /** Queries outstanding on those connections. */
  tcpOutstanding: number;
}
