// One address:port: a UDP socket and a TCP server feeding the dispatcher. The router is swapped on
// reload without touching the sockets.

import net from "node:net";
import { openUdp, type UdpEndpoint } from "../udp/index.ts";
import { type DispatchHooks, dispatch } from "./dispatch.ts";
import { Query, type Transport } from "./query.ts";
import type { Router } from "./router.ts";

/**
 * TCP server timeouts (the `timeouts` directive), ms; 0 = the default. idle: a connection with no
 * traffic closes (default 10 s, CoreDNS's); read: a query must arrive whole within this of the
 * connection opening or of its first bytes; write: a reply the client does not take within this
 * closes the connection. Without `timeouts`, only idle applies.
 */
export interface TcpTimeouts {
  readMs: number;
  writeMs: number;
  idleMs: number;
}

/** Idle TCP connections are closed after this long (CoreDNS: 10 s). */
const TCP_IDLE_MS = 10_000;
export const NO_TIMEOUTS: TcpTimeouts = { readMs: 0, writeMs: 0, idleMs: 0 };
const MAX_TCP_BUFFER = 65_537;
/** A deep socket receive queue absorbs bursts (the kernel caps it at net.core.rmem_max). */
const UDP_BUFFER_BYTES = 4 << 20;
/** Answered UDP queries kept for reuse (a burst of misses in flight at once; more are left to the GC). */
const MAX_SPARE_QUERIES = 1024;

export interface ListenerOptions {
  host: string;
  port: number;
  hooks: DispatchHooks;
  reusePort: boolean;
  /** Queries in flight: started before dispatch, finished when answered (or dropped, via hooks). */
  started(): void;
  finished(): void;
}

export class Listener {
  readonly host: string;
  readonly port: number;
  /** The `server` metric label, CoreDNS style: dns://ADDR:PORT. */
  readonly serverLabel: string;
  router: Router;
  /** Read on each new connection; replaced with the router on reload. */
  timeouts: TcpTimeouts = NO_TIMEOUTS;
  private readonly hooks: DispatchHooks;
  /** Connections whose replies wait in the socket's buffer: closed when the write timeout passes. */
  private readonly writeTimers = new Map<net.Socket, NodeJS.Timeout>();
  private readonly reusePort: boolean;
  private readonly started: () => void;
  private udp: UdpEndpoint | null = null;
  private tcp: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();
  private readonly family: 1 | 2;
  private readonly udpTransport: Transport;
  private readonly tcpTransport: Transport;
  /** Handoff: the UDP socket is connected to a dead peer, so the kernel gives new queries to the successor. */
  private detached = false;
  private flushing = false;
  private readonly outbox: { reply: Buffer; port: number; address: string }[] = [];
  /**
   * UDP queries answered and free for the next datagrams: a miss's query lives about as long as a
   * young-generation collection takes to come round, so a new one per datagram was promoted.
   */
  private readonly spareQueries: Query[] = [];

  /**
   * Run one query through this listener's routing and chains as if `remoteAddress` had sent it over
   * UDP (`explain --live`): counted, cached and forwarded like any other; the reply comes back here.
   */
  inject(packet: Buffer, remoteAddress: string): Promise<{ reply: Buffer; query: Query }> {
    return new Promise((resolve) => {
      const transport: Transport = {
        proto: "udp",
        server: this.serverLabel,
        send: (query, reply) => resolve({ reply, query }),
      };
      const query = new Query(transport, remoteAddress, 0, net.isIPv6(remoteAddress) ? 2 : 1);
      dispatch(query, packet, this.router, this.hooks);
    });
  }

  constructor(options: ListenerOptions, router: Router) {
    this.host = options.host;
    this.port = options.port;
    this.family = net.isIPv6(options.host) ? 2 : 1;
    // CoreDNS's label: dns://ADDR:PORT, and dns://:PORT for a block without bind.
    const shown = options.host === "::" ? "" : this.family === 2 ? `[${options.host}]` : options.host;
    this.serverLabel = `dns://${shown}:${options.port}`;
    this.router = router;
    this.hooks = options.hooks;
    this.reusePort = options.reusePort;
    this.started = options.started;
    const finished = options.finished;
    this.udpTransport = {
      proto: "udp",
      server: this.serverLabel,
      send: (query, reply) => {
        finished();
        if (this.detached) this.queueReply(reply, query.remotePort, query.remoteAddress);
        else this.udp?.reply(reply, query.remotePort, query.remoteAddress, query.slot);
      },
      // A detached socket queues replies in the outbox; otherwise the socket's own queue (dgram's
      // sends that could not go out at once hold their buffers; batched sends are copies).
      sendsQueued: () => (this.detached ? 1 : (this.udp?.sendsQueued() ?? 0)),
      release: (query) => {
        if (query.releasable && this.spareQueries.length < MAX_SPARE_QUERIES) this.spareQueries.push(query);
      },
    };
    this.tcpTransport = {
      proto: "tcp",
      server: this.serverLabel,
      send: (query, reply) => {
        finished();
        const socket = query.connection as net.Socket;
        if (socket.destroyed || !socket.writable) return;
        const framed = Buffer.allocUnsafe(reply.length + 2);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        try {
          if (!socket.write(framed)) this.awaitDrain(socket);
        } catch {
          socket.destroy(); // the connection broke under us; the client will ask again
        }
      },
      sendsQueued: () => 0, // the reply was copied into its frame
    };
  }

  private received(packet: Buffer, address: string, port: number, slot: number): void {
    let query = this.spareQueries.pop();
    // A failure answered after the query was released marks it (see Query.reusable): skip it.
    while (query !== undefined && !query.reusable) query = this.spareQueries.pop();
    if (query === undefined) query = new Query(this.udpTransport, address, port, this.family);
    else query.reuse(address, port);
    query.slot = slot;
    this.started();
    dispatch(query, packet, this.router, this.hooks);
    query.slot = -1;
    // Still waiting (an upstream, a flight): its bytes must outlive the slot they arrived in.
    if (!query.answered && this.udp?.borrowsPackets === true) query.ownPacket();
  }

  async start(): Promise<void> {
    const udp = await openUdp(
      { host: this.host, port: this.port, reusePort: this.reusePort, bufferBytes: UDP_BUFFER_BYTES },
      (packet, address, port, slot) => this.received(packet, address, port, slot),
    );
    this.udp = udp;
    const tcp = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    tcp.on("error", () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host: this.host, port: this.port, reusePort: this.reusePort, backlog: 1024 }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.udp = null;
      await udp.close(); // the port must not stay bound by a listener that failed to start
      throw error;
    }
    this.tcp = tcp;
  }

  /** Stop reading new queries; answers still in flight go out on TCP connections until `closeAll`. */
  async stopAccepting(): Promise<void> {
    const tcp = this.tcp;
    this.tcp = null;
    if (tcp !== null) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.stopAccepting();
    while (this.udp !== null && (this.flushing || this.outbox.length > 0))
      await new Promise((r) => setTimeout(r, 5));
    for (const socket of this.connections) socket.end();
    const udp = this.udp;
    this.udp = null;
    if (udp !== null) await udp.close();
    for (const socket of this.connections) socket.destroy();
  }

  get key(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Take the UDP socket out of the kernel's choice without closing it: a connected socket in a
   * SO_REUSEPORT group only receives from its peer, so every new query goes to the other sockets
   * (the successor), while what is already queued here is still read and answered.
   */
  async detachUdp(): Promise<void> {
    const udp = this.udp;
    if (udp === null || this.detached) return;
    await this.connectAside(udp);
    this.detached = true;
  }

  /** Whether replies are still waiting to go out of a detached socket. */
  get pendingReplies(): number {
    return this.outbox.length + (this.flushing ? 1 : 0);
  }

  /** The peer a detached socket is connected to: our own address, port 1, where no client lives. */
  private connectAside(udp: UdpEndpoint): Promise<void> {
    const host = this.host === "::" ? "::1" : this.host === "0.0.0.0" ? "127.0.0.1" : this.host;
    return udp.connect(1, host);
  }

  /** Replies sent through the socket after it was detached (queued or in flight at the handoff). */
  repliesAfterDetach = 0;

  private queueReply(reply: Buffer, port: number, address: string): void {
    this.repliesAfterDetach++;
    this.outbox.push({ reply, port, address });
    if (!this.flushing) void this.flush();
  }

  /**
   * Replies from a detached socket: a connected socket cannot send elsewhere, so disconnect, send the
   * batch, and connect aside again. Queries that slip in during that moment are read and answered
   * in the next batch; none are lost because the socket only closes while connected and drained.
   */
  private async flush(): Promise<void> {
    const udp = this.udp;
    if (udp === null) return;
    this.flushing = true;
    try {
      while (this.outbox.length > 0) {
        const batch = this.outbox.splice(0, this.outbox.length);
        udp.disconnect();
        await Promise.all(batch.map((r) => udp.sendAndWait(r.reply, r.port, r.address)));
        await this.connectAside(udp);
      }
    } catch {
      // the socket went away; nothing left to send through it
    } finally {
      this.flushing = false;
    }
  }

  /** The client is not reading: it gets `write` ms to take the queued replies. */
  private awaitDrain(socket: net.Socket): void {
    const ms = this.timeouts.writeMs;
    if (ms <= 0 || this.writeTimers.has(socket)) return;
    this.writeTimers.set(
      socket,
      setTimeout(() => socket.destroy(), ms),
    );
    socket.once("drain", () => {
      clearTimeout(this.writeTimers.get(socket));
      this.writeTimers.delete(socket);
    });
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    const { readMs, idleMs } = this.timeouts;
    socket.setTimeout(idleMs > 0 ? idleMs : TCP_IDLE_MS, () => socket.destroy());
    // The first query must come whole within `read` of the connection opening.
    let readTimer = readMs > 0 ? setTimeout(() => socket.destroy(), readMs) : null;
    socket.on("close", () => {
      this.connections.delete(socket);
      if (readTimer !== null) clearTimeout(readTimer);
      clearTimeout(this.writeTimers.get(socket));
      this.writeTimers.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    const remoteAddress = socket.remoteAddress ?? "";
    const remotePort = socket.remotePort ?? 0;
    let pending: Buffer | null = null;
    socket.on("data", (chunk: Buffer) => {
      let data = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      while (data.length >= 2) {
        const length = data.readUInt16BE(0);
        if (data.length < length + 2) break;
        // A copy, so the query owns its bytes while it waits for an upstream.
        const packet = Buffer.from(data.subarray(2, 2 + length));
        data = data.subarray(2 + length);
        const query = new Query(this.tcpTransport, remoteAddress, remotePort, this.family);
        query.connection = socket;
        this.started();
        dispatch(query, packet, this.router, this.hooks);
      }
      if (data.length > 0) {
        if (data.length > MAX_TCP_BUFFER) socket.destroy();
        else pending = Buffer.from(data);
      }
      if (readMs > 0) {
        // A query begun must be finished within `read`; between queries only idle applies.
        if (pending === null) {
          if (readTimer !== null) clearTimeout(readTimer);
          readTimer = null;
        } else readTimer ??= setTimeout(() => socket.destroy(), readMs);
      }
    });
  }
}
