// One query in flight: the parsed view plus where and how its answer goes.

import { QueryView } from "../dns/index.ts";
import type { ZoneMetrics } from "../metrics/index.ts";

/** How an answer leaves: a UDP socket or a TCP connection. */
export interface Transport {
  readonly proto: "udp" | "tcp";
  /** The listener's `server` metric label (dns://ADDR:PORT); "" for internal queries. */
  readonly server: string;
  send(query: Query, reply: Buffer): void;
  /**
   * Sends still queued after send() returned (they hold their buffers). A transport without it is
   * assumed to keep the reply, so reusable reply memory is never handed to it twice.
   */
  sendsQueued?(): number;
  /** The query was answered and may be taken back for another datagram (see Query.reusable). */
  release?(query: Query): void;
}

/** Receives the finished reply, e.g. for metrics and query logs. */
export interface ReplyObserver {
  replied(query: Query, reply: Buffer): void;
}

/** Intercepts a downstream reply before it is rendered for the client (the cache's flights). */
export interface ReplyInterceptor {
  complete(query: Query, reply: Buffer): void;
}

/**
 * A query's own copy of its packet: sized to the packet (at least 128 bytes, rounded up to 64), kept
 * with the object and grown only for a longer packet. Every query waiting in an upstream outage
 * holds one (10,000 at 2,000 q/s), so it is no bigger than its packets need.
 */
const MIN_OWN_BYTES = 128;
const MAX_OWN_BYTES = 512;

export class Query extends QueryView {
  transport: Transport;
  remoteAddress: string;
  remotePort: number;
  family: 1 | 2;
  /** The datagram's place in the UDP batch being handled (its reply joins the batch); -1 otherwise. */
  slot = -1;
  /** The client's size limit for this reply: the EDNS/512 rule over UDP, 65535 over TCP. */
  limit = 65535;
  startedAt = 0;
  /** The plugin that wrote the answer (the `plugin` label of coredns_dns_responses_total). */
  plugin = "";
  /** The upstream ("IP:PORT") whose reply the forward plugin delivered; "" otherwise. */
  upstream = "";
  interceptor: ReplyInterceptor | null = null;
  observer: ReplyObserver | null = null;
  /** Metric handles of the matched (server, zone). */
  zoneMetrics: ZoneMetrics | null = null;
  /** Opaque per-connection state (TCP: the connection). */
  connection: unknown = null;
  answered = false;
  /** The reply must not be stored in the cache (answers from the cluster index). */
  noStore = false;
  /** The reply was built for exactly this query (its ID, spelling, OPT): no re-rendering needed. */
  clientReady = false;
  /**
   * Rewrites the client's final reply in place just before it leaves (loadbalance, which sits before
   * the cache and so must see cache hits too). A block without such a plugin pays one null check.
   */
  replyFilter: ((reply: Buffer) => void) | null = null;
  /**
   * False once a failure was answered (a plugin threw): work started for the query may still
   * complete later and must find it answered, not reused for another client.
   */
  reusable = true;
  /** Memory the query keeps for its own copy of a borrowed packet (reused with the object). */
  private own: Buffer | null = null;

  constructor(transport: Transport, remoteAddress: string, remotePort: number, family: 1 | 2) {
    super();
    this.transport = transport;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.family = family;
  }

  /** Make a finished query new again for another datagram (parseQuery refills the view). */
  reuse(remoteAddress: string, remotePort: number): void {
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.slot = -1;
    this.limit = 65535;
    this.startedAt = 0;
    this.plugin = "";
    this.upstream = "";
    this.interceptor = null;
    this.observer = null;
    this.zoneMetrics = null;
    this.connection = null;
    this.answered = false;
    this.noStore = false;
    this.clientReady = false;
    this.replyFilter = null;
    this.reusable = true;
  }

  /** Copy the packet into memory of the query's own (it arrived in memory the socket reuses). */
  ownPacket(): void {
    const length = this.buf.length;
    if (length > MAX_OWN_BYTES) {
      this.buf = Buffer.from(this.buf);
      return;
    }
    if (this.own === null || this.own.length < length)
      this.own = Buffer.allocUnsafeSlow(Math.max(MIN_OWN_BYTES, (length + 63) & ~63));
    const own = this.own;
    this.buf.copy(own, 0, 0, length);
    this.buf = own.subarray(0, length);
  }

  /**
   * Answered, no flight waiting on it (a flight's waiters are answered when it completes), no
   * failure behind it: nothing can reach this object again, so another datagram may use it.
   */
  get releasable(): boolean {
    return this.answered && this.interceptor === null && this.reusable;
  }

  /** Answer SERVFAIL after a failure, and never reuse this object (see `reusable`). */
  sendFailure(reply: () => Buffer): void {
    this.reusable = false;
    if (!this.answered) this.sendFinal(reply());
  }

  /** Send a finished, client-ready reply; later calls are ignored (exactly one answer). */
  sendFinal(reply: Buffer): void {
    if (this.answered) return;
    this.answered = true;
    if (this.replyFilter !== null) this.replyFilter(reply);
    this.transport.send(this, reply);
    this.observer?.replied(this, reply);
    this.transport.release?.(this);
  }
}
