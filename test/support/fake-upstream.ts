// A programmable DNS server (UDP + TCP on one host/port) for what real software will not do:
// delay, silence, chosen rcodes, dropped connections, wrong IDs or questions.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type Socket, type Server as TcpServer } from "node:net";
import type { Answer, DecodedPacket, Packet } from "dns-packet";
import dnsPacket from "dns-packet";
import { onCleanup } from "./cleanup.ts";
import { assertLoopback, freePort, hostPort } from "./ports.ts";
import { PROBE_NAME } from "./querylog.ts";

export type Proto = "udp" | "tcp";

/** What a handler returns. */
export type FakeReply =
  /** Encoded and sent (framed on TCP). */
  | Packet
  /** Sent as is (framed on TCP): for malformed or hand-made bytes. */
  | Buffer
  /** No answer at all (the query is still counted). */
  | null
  /** TCP: close the connection now (UDP: same as null). */
  | { close: true }
  /** TCP: write only the first `bytes` bytes of the framed reply, then close (mid-stream drop). */
  | { partial: Packet | Buffer; bytes: number };

export interface FakeContext {
  proto: Proto;
  /** The raw query bytes (unframed). */
  raw: Buffer;
  remote: { address: string; port: number };
  /** The TCP connection, when proto is tcp. */
  socket?: Socket;
  /** 1-based index of this query among all received. */
  seq: number;
}

export type FakeHandler = (query: DecodedPacket, ctx: FakeContext) => FakeReply | Promise<FakeReply>;

export interface FakeUpstream {
  host: string;
  port: number;
  address: string;
  /** Every decoded query received, in arrival order. */
  readonly queries: { name: string; type: string; proto: Proto; id: number }[];
  count(name?: string, type?: string): number;
  readonly tcpConnections: number;
  /** TCP connections open right now. */
  openConnections(): number;
  setHandler(h: FakeHandler): void;
  reset(): void;
  stop(): Promise<void>;
}

export interface ReplyOptions {
  rcode?: "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
  aa?: boolean;
  tc?: boolean;
  ra?: boolean;
}

const RCODE_NUM = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** A response to `query`: same ID and question, RD echoed, chosen rcode and sections. */
export function reply(query: DecodedPacket, o: ReplyOptions = {}): Packet {
  let flags = (o.ra ?? true) ? dnsPacket.RECURSION_AVAILABLE : 0;
  if (query.flag_rd) flags |= dnsPacket.RECURSION_DESIRED;
  if (o.aa) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  if (o.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
  flags |= RCODE_NUM[o.rcode ?? "NOERROR"];
  return {
    type: "response",
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: o.additionals ?? [],
  };
}

/** Default behaviour: every A query gets 192.0.2.1 with TTL 60, every other type NODATA. */
export const defaultHandler: FakeHandler = (q) => {
  const question = q.questions?.[0];
  if (question?.type === "A") {
    return reply(q, {
      answers: [{ name: question.name, type: "A", ttl: 60, class: "IN", data: "192.0.2.1" }],
    });
  }
  return reply(q);
};

function toBytes(r: Packet | Buffer): Buffer {
  return Buffer.isBuffer(r) ? r : dnsPacket.encode(r);
}

function frame(b: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export async function startFakeUpstream(opts: {
  host: string;
  port?: number;
  handler?: FakeHandler;
}): Promise<FakeUpstream> {
  assertLoopback(opts.host);
  const port = opts.port ?? (await freePort(opts.host));
  let handler = opts.handler ?? defaultHandler;
  const queries: FakeUpstream["queries"] = [];
  const conns = new Set<Socket>();
  let tcpConnections = 0;
  let seq = 0;

  const handle = async (raw: Buffer, ctx: Omit<FakeContext, "seq" | "raw">): Promise<FakeReply> => {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(raw);
    } catch {
      return null; // undecodable: stay silent
    }
    const question = q.questions?.[0];
    // Readiness probes (startDaemon) always get NXDOMAIN and are not counted, whatever the handler.
    if (question && `${question.name.toLowerCase().replace(/\.$/, "")}.` === PROBE_NAME) {
      return reply(q, { rcode: "NXDOMAIN" });
    }
    queries.push({ name: question?.name ?? "", type: question?.type ?? "", proto: ctx.proto, id: q.id ?? 0 });
    return handler(q, { ...ctx, raw, seq: ++seq });
  };

  const udp: UdpSocket = createSocket(isIPv6(opts.host) ? "udp6" : "udp4");
  udp.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
    void handle(msg, { proto: "udp", remote: { address: rinfo.address, port: rinfo.port } }).then(
      (r) => {
        if (r === null || "close" in r || "partial" in r) return;
        udp.send(toBytes(r as Packet | Buffer), rinfo.port, rinfo.address);
      },
      () => undefined,
    );
  });
  udp.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(port, opts.host, () => resolve());
  });

  const tcp: TcpServer = createServer((sock) => {
    tcpConnections++;
    conns.add(sock);
    sock.on("close", () => conns.delete(sock));
    sock.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        const remote = { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 };
        void handle(msg, { proto: "tcp", remote, socket: sock }).then(
          (r) => {
            if (r === null || sock.destroyed) return;
            if ("close" in r) sock.destroy();
            else if ("partial" in r) sock.end(frame(toBytes(r.partial)).subarray(0, r.bytes));
            else sock.write(frame(toBytes(r as Packet | Buffer)));
          },
          () => sock.destroy(),
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen({ host: opts.host, port, exclusive: true }, () => resolve());
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of conns) c.destroy();
    await Promise.all([
      new Promise<void>((r) => udp.close(() => r())),
      new Promise<void>((r) => tcp.close(() => r())),
    ]);
  };
  const unregister = onCleanup(stop);

  return {
    host: opts.host,
    port,
    address: hostPort(opts.host, port),
    queries,
    count(name?: string, type?: string) {
      const n = name?.toLowerCase().replace(/\.$/, "");
      return queries.filter(
        (q) =>
          (n === undefined || q.name.toLowerCase().replace(/\.$/, "") === n) && (!type || q.type === type),
      ).length;
    },
    get tcpConnections() {
      return tcpConnections;
    },
    openConnections: () => conns.size,
    setHandler(h: FakeHandler) {
      handler = h;
    },
    reset() {
      queries.length = 0;
      tcpConnections = 0;
      seq = 0;
    },
    async stop() {
      unregister();
      await stop();
    },
  };
}
