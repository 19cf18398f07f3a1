// A pure-Node DNS client for tests that need exact bytes: ID echo, 0x20 case, EDNS sizes, pipelining.

import { createSocket } from "node:dgram";
import { connect, isIPv6 } from "node:net";
import type { DecodedPacket, Packet, RecordType } from "dns-packet";
import dnsPacket from "dns-packet";

export interface Server {
  host: string;
  port: number;
}

export interface EncodeOptions {
  /** Message ID; random when omitted. */
  id?: number;
  /** Adds an OPT record with this UDP payload size; null or omitted = no EDNS. */
  ednsUdpSize?: number | null;
  /** DNSSEC OK bit (implies EDNS, 1232 when no size given). */
  dnssecOk?: boolean;
  /** Recursion desired; default true. */
  rd?: boolean;
  /** Checking disabled. */
  cd?: boolean;
  qclass?: "IN" | "CH" | "ANY";
}

export interface QueryOptions extends EncodeOptions {
  proto?: "udp" | "tcp";
  timeoutMs?: number;
}

export interface QueryResult {
  raw: Buffer;
  packet: DecodedPacket;
  /** Header rcode name (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...), extended bits ignored. */
  rcode: string;
  rttMs: number;
}

export class QueryTimeoutError extends Error {
  readonly code = "TIMEOUT";
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET"];

export function rcodeOf(raw: Buffer): string {
  const n = raw.length >= 4 ? raw[3]! & 0x0f : -1;
  return RCODES[n] ?? `RCODE${n}`;
}

/** Encodes a query exactly as asked (the name's case is kept). */
export function encodeQuery(name: string, type: RecordType = "A", opts: EncodeOptions = {}): Buffer {
  let flags = opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED;
  if (opts.cd) flags |= dnsPacket.CHECKING_DISABLED;
  const packet: Packet = {
    type: "query",
    id: opts.id ?? Math.floor(Math.random() * 65536),
    flags,
    questions: [{ name, type, class: opts.qclass ?? "IN" }],
  };
  const size = opts.ednsUdpSize ?? (opts.dnssecOk ? 1232 : null);
  if (size !== null) {
    packet.additionals = [
      {
        type: "OPT",
        name: ".",
        udpPayloadSize: size,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: opts.dnssecOk ?? false,
        options: [],
      },
    ];
  }
  return dnsPacket.encode(packet);
}

/** Sends `msg` once and resolves with the first reply datagram / framed TCP message. */
export function exchange(
  server: Server,
  msg: Buffer,
  proto: "udp" | "tcp" = "udp",
  timeoutMs = 2000,
): Promise<Buffer> {
  return proto === "udp"
    ? udpExchange(server, msg, timeoutMs)
    : tcpPipeline(server, [msg], timeoutMs).then((r) => r[0]!);
}

// A connected socket, as glibc uses: replies from another source are ignored and ICMP port unreachable
// surfaces at once as ECONNREFUSED.
function udpExchange(server: Server, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(server.host) ? "udp6" : "udp4");
    let done = false;
    const finish = (err: Error | null, reply?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new QueryTimeoutError(`udp query to ${server.host}:${server.port} timed out after ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    sock.on("error", (err) => finish(err));
    sock.on("message", (reply) => finish(null, reply));
    sock.connect(server.port, server.host, () => {
      sock.send(msg, (err) => {
        if (err) finish(err);
      });
    });
  });
}

/**
 * Writes all `queries` (unframed DNS messages) on ONE TCP connection at once, each with its 2-byte
 * length prefix, and resolves with the replies in arrival order once as many replies as queries came.
 */
export function tcpPipeline(server: Server, queries: Buffer[], timeoutMs = 5000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    let settled = false;
    const sock = connect({ host: server.host, port: server.port });
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(
      () =>
        finish(
          new QueryTimeoutError(
            `tcp to ${server.host}:${server.port}: ${replies.length}/${queries.length} replies after ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    sock.once("connect", () => {
      const framed = queries.map((q) => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        return Buffer.concat([len, q]);
      });
      sock.write(Buffer.concat(framed));
    });
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        replies.push(Buffer.from(buf.subarray(2, 2 + n)));
        buf = buf.subarray(2 + n);
      }
      if (replies.length >= queries.length) finish(null);
    });
    sock.once("error", (err) => finish(err));
    sock.once("close", () => {
      if (replies.length < queries.length) {
        finish(
          new Error(
            `tcp to ${server.host}:${server.port} closed after ${replies.length}/${queries.length} replies`,
          ),
        );
      }
    });
  });
}

/** One query over UDP (default) or TCP; the reply is returned raw and decoded. */
export async function query(
  server: Server,
  name: string,
  type: RecordType = "A",
  opts: QueryOptions = {},
): Promise<QueryResult> {
  const msg = encodeQuery(name, type, opts);
  const t0 = performance.now();
  const raw = await exchange(server, msg, opts.proto ?? "udp", opts.timeoutMs ?? 2000);
  const rttMs = performance.now() - t0;
  return { raw, packet: dnsPacket.decode(raw), rcode: rcodeOf(raw), rttMs };
}

/** Polls with a UDP query until any DNS reply arrives (any rcode); rejects after `timeoutMs`. */
export async function waitForDns(
  server: Server,
  timeoutMs = 10_000,
  isAlive: () => boolean = () => true,
  name = "ready-probe.invalid.",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error("process exited before answering DNS");
    try {
      await query(server, name, "A", { timeoutMs: 250 });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`no DNS reply from ${server.host}:${server.port} within ${timeoutMs} ms: ${String(last)}`);
}
