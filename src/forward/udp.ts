// One UDP exchange: a fresh socket (kernel-chosen random source port, RFC 5452), connected to the
// upstream so the kernel drops datagrams from anyone else, and a reply accepted only with our ID,
// QR set and the same question.

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Now, TimerHandle, TimerWheel } from "../clock/index.ts";
import { FLAG_QR, HEADER_LENGTH, replyMatchesQuery } from "../dns/index.ts";
import { type Deadline, DeadlineList } from "./deadlines.ts";
import { type ExchangeSink, type PooledHandle, timeoutReason } from "./exchange.ts";

const EMPTY = Buffer.alloc(0);
const ignore = (): void => {};
/** Settled exchanges kept for reuse. */
const MAX_SPARE = 1024;
const spare: UdpExchange[] = [];

/**
 * Reused once settled, like TcpExchange: its listeners are bound once and taken off the socket when
 * it settles; the connect/send callback (dgram gives it nothing to tell sockets apart) checks `gen`.
 * Its read deadline is on its upstream's list (one wheel timer, see deadlines.ts).
 */
export class UdpExchange implements PooledHandle, Deadline {
  gen = 0;
  private socket: Socket | null = null;
  private host = "";
  private port = 0;
  private v6 = false;
  private id = 0;
  /** The query, for the question check; unchanged until this settles. */
  private query: Buffer = EMPTY;
  private sink: ExchangeSink | null = null;
  private token = 0;
  private timeoutMs = 0;
  deadline = 0;
  prevDue: Deadline | null = null;
  nextDue: Deadline | null = null;
  ownTimer: TimerHandle | null = null;
  private deadlines: DeadlineList<UdpExchange> | null = null;
  private connected = false;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port !== this.port || (!this.v6 && rinfo.address !== this.host)) return;
    if (msg.length < HEADER_LENGTH || ((msg[0]! << 8) | msg[1]!) !== this.id) return;
    if ((((msg[2]! << 8) | msg[3]!) & FLAG_QR) === 0 || !replyMatchesQuery(msg, this.query)) return;
    const sink = this.sink!;
    const token = this.token;
    this.release();
    sink.reply(msg, token);
  };
  private readonly onError = (err: Error): void => this.failed(err);

  start(
    host: string,
    port: number,
    message: Buffer,
    length: number,
    id: number,
    timeoutMs: number,
    deadlines: DeadlineList<UdpExchange>,
    now: number,
    sink: ExchangeSink,
    token: number,
  ): void {
    this.sink = sink;
    this.token = token;
    this.deadline = now + timeoutMs;
    this.deadlines = deadlines;
    deadlines.add(this);
    this.host = host;
    this.port = port;
    this.v6 = isIPv6(host);
    this.id = id;
    this.query = message;
    this.timeoutMs = timeoutMs;
    this.connected = false;
    const wire = Buffer.allocUnsafe(length); // dgram keeps it until sent
    message.copy(wire, 0, 0, length);
    wire.writeUInt16BE(id, 0);
    const socket = createSocket({ type: this.v6 ? "udp6" : "udp4" });
    this.socket = socket;
    socket.on("message", this.onMessage);
    socket.on("error", this.onError);
    // dgram hands a failed connect (ENETUNREACH, EAFNOSUPPORT, ...) to this callback, not to 'error';
    // the socket is then unconnected, and a send without an address would throw.
    const gen = this.gen;
    const step = (err?: Error | null): void => {
      if (this.gen !== gen) return; // an earlier use's socket
      if (err) this.failed(err);
      else if (!this.connected) {
        this.connected = true;
        try {
          socket.send(wire, step);
        } catch (sendErr) {
          this.failed(sendErr as Error);
        }
      }
    };
    socket.connect(port, host, step);
  }

  cancel(): void {
    if (this.socket !== null) this.release();
  }

  onTimer(): void {
    this.deadlines?.fired(this);
  }

  /** The deadline passed (the list has taken it off). */
  expired(): void {
    if (this.socket === null) return;
    const sink = this.sink!;
    const token = this.token;
    const reason = timeoutReason("udp", this.timeoutMs);
    this.release();
    sink.fail("timeout", reason, token);
  }

  private failed(err: Error): void {
    if (this.socket === null) return;
    const sink = this.sink!;
    const token = this.token;
    this.release();
    sink.fail("error", err.message, token);
  }

  /** Settle: close the socket, forget the query, and go back to the pool with a new `gen`. */
  private release(): void {
    const socket = this.socket!;
    this.socket = null;
    this.gen = (this.gen + 1) & 0x3fffffff;
    this.deadlines!.remove(this);
    this.deadlines = null;
    socket.removeListener("message", this.onMessage);
    socket.removeListener("error", this.onError);
    socket.on("error", ignore);
    try {
      socket.close();
    } catch {
      // already closed
    }
    this.query = EMPTY;
    this.sink = null;
    if (spare.length < MAX_SPARE) spare.push(this);
  }
}

/** Send `message[0, length)` with ID `id` to host:port; report to `sink` (with `token`) once. */
export function udpExchange(
  host: string,
  port: number,
  message: Buffer,
  length: number,
  id: number,
  timeoutMs: number,
  deadlines: DeadlineList<UdpExchange>,
  now: number,
  sink: ExchangeSink,
  token = 0,
): PooledHandle {
  const e = spare.pop() ?? new UdpExchange();
  e.start(host, port, message, length, id, timeoutMs, deadlines, now, sink, token);
  return e;
}

/** The deadline list an upstream's UDP exchanges share. */
export function udpDeadlines(wheel: TimerWheel, now: Now): DeadlineList<UdpExchange> {
  return new DeadlineList<UdpExchange>(wheel, now, (e) => e.expired());
}
