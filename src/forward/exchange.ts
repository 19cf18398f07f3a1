// What one upstream exchange reports back to the query that started it.

export type FailKind = "timeout" | "error";

export interface ExchangeSink {
  /** A reply with the ID we sent, QR set, and the question we asked. */
  reply(reply: Buffer): void;
  /** No usable reply: the read timed out, or the transport failed. */
  fail(kind: FailKind, reason: string): void;
}

export interface ExchangeHandle {
  /** Stop waiting; the sink hears nothing more. */
  cancel(): void;
}

/** "IP:PORT", IPv6 in brackets, as CoreDNS labels its `to` metric. */
export function upstreamKey(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
