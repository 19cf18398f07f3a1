// What one upstream exchange reports back to the query that started it.

export type FailKind = "timeout" | "error";

/**
 * Where an exchange reports, once. `token` is the number the exchange was started with, so one sink
 * (a query's task) can tell its current exchange from an abandoned one without a closure per exchange.
 */
export interface ExchangeSink {
  /** A reply with the ID we sent, QR set, and the question we asked. */
  reply(reply: Buffer, token: number): void;
  /** No usable reply: the read timed out, or the transport failed. */
  fail(kind: FailKind, reason: string, token: number): void;
}

/** The reason of a "timeout" failure, built only where it is reported or logged. */
export function timeoutReason(proto: "udp" | "tcp", timeoutMs: number): string {
  return `no ${proto === "udp" ? "UDP" : "TCP"} reply within ${timeoutMs} ms`;
}

export interface ExchangeHandle {
  /** Stop waiting; the sink hears nothing more. */
  cancel(): void;
}

/**
 * An exchange object that is reused once settled: `gen` changes each time, so whoever kept it
 * compares the `gen` it saw at the start before cancelling (else it could cancel someone else's).
 */
export interface PooledHandle extends ExchangeHandle {
  readonly gen: number;
}

/** "IP:PORT", IPv6 in brackets, as CoreDNS labels its `to` metric. */
export function upstreamKey(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
