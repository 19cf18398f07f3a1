// One UDP exchange: a fresh socket (kernel-chosen random source port, RFC 5452), connected to the
// upstream so the kernel drops datagrams from anyone else, and a reply accepted only with our ID,
// QR set and the same question.

import { createSocket, type RemoteInfo } from "node:dgram";
import { isIPv6 } from "node:net";
import type { TimerWheel } from "../clock/index.ts";
import { FLAG_QR, HEADER_LENGTH, replyMatchesQuery } from "../dns/index.ts";
import { type ExchangeHandle, type ExchangeSink, timeoutReason } from "./exchange.ts";

export function udpExchange(
  host: string,
  port: number,
  message: Buffer,
  id: number,
  timeoutMs: number,
  wheel: TimerWheel,
  sink: ExchangeSink,
  token = 0,
): ExchangeHandle {
  const v6 = isIPv6(host);
  const socket = createSocket({ type: v6 ? "udp6" : "udp4" });
  const wire = Buffer.allocUnsafe(message.length);
  message.copy(wire);
  wire.writeUInt16BE(id, 0);
  let done = false;
  const timer = wheel.schedule(timeoutMs, () => {
    if (done) return;
    finish();
    sink.fail("timeout", timeoutReason("udp", timeoutMs), token);
  });

  const finish = (): void => {
    done = true;
    timer.cancel();
    try {
      socket.close();
    } catch {
      // already closed
    }
  };

  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (done || rinfo.port !== port || (!v6 && rinfo.address !== host)) return;
    if (msg.length < HEADER_LENGTH || ((msg[0]! << 8) | msg[1]!) !== id) return;
    if ((((msg[2]! << 8) | msg[3]!) & FLAG_QR) === 0 || !replyMatchesQuery(msg, message)) return;
    finish();
    sink.reply(msg, token);
  };

  socket.on("message", onMessage);
  const failed = (err: Error): void => {
    if (done) return;
    finish();
    sink.fail("error", err.message, token);
  };
  socket.on("error", failed);
  // dgram hands a failed connect (ENETUNREACH, EAFNOSUPPORT, ...) to this callback, not to 'error';
  // the socket is then unconnected, and a send without an address would throw.
  socket.connect(port, host, (err?: Error) => {
    if (done) return;
    if (err) {
      failed(err);
      return;
    }
    try {
      socket.send(wire, (sendErr) => {
        if (sendErr) failed(sendErr);
      });
    } catch (sendErr) {
      failed(sendErr as Error);
    }
  });
  return {
    cancel() {
      if (!done) finish();
    },
  };
}
