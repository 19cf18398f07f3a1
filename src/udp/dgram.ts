// node:dgram behind the listener's UDP interface: the fallback when the native addon is missing or
// NLD_UDP_IO=dgram asks for it. One Buffer, rinfo and send request per datagram.

import dgram from "node:dgram";
import net from "node:net";
import type { DatagramHandler, UdpEndpoint, UdpOptions } from "./types.ts";

/**
 * Replies go to the client's IP literal; dgram would still pass it through dns.lookup and a
 * process.nextTick per send. Answering at once saves that on every reply.
 */
function literalLookup(
  address: string,
  _options: unknown,
  callback: (error: Error | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(":") ? 6 : 4);
}

interface UdpHandle {
  recvStop(): number;
  recvStart(): number;
}

/** The libuv UDP handle behind a dgram socket (Node keeps it under its "state symbol"). */
function handleOf(socket: dgram.Socket): UdpHandle | null {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const state =
    sym === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: unknown }>)[sym];
  const handle = state?.handle as Partial<UdpHandle> | undefined;
  return typeof handle?.recvStop === "function" && typeof handle.recvStart === "function"
    ? (handle as UdpHandle)
    : null;
}

export async function openDgram(options: UdpOptions, onDatagram: DatagramHandler): Promise<UdpEndpoint> {
  const udp = dgram.createSocket({
    type: net.isIPv6(options.host) ? "udp6" : "udp4",
    reusePort: options.reusePort,
    lookup: literalLookup,
  });
  // Where the libuv handle is out of reach, a paused socket keeps reading but drops what it reads.
  let dropping = false;
  udp.on("message", (packet, rinfo) => {
    if (!dropping) onDatagram(packet, rinfo.address, rinfo.port, -1);
  });
  udp.on("error", () => {}); // per-send errors (e.g. ICMP unreachable) must not crash the daemon
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind({ address: options.host, port: options.port, exclusive: true }, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  try {
    udp.setRecvBufferSize(options.bufferBytes);
    udp.setSendBufferSize(options.bufferBytes);
  } catch {
    // keep the kernel's default when it refuses
  }
  let closed = false;
  return {
    kind: "dgram",
    host: options.host,
    port: options.port,
    borrowsPackets: false,
    reply(reply, port, address) {
      if (closed) return;
      try {
        udp.send(reply, port, address);
      } catch {
        // closed while the answer was on its way; the client will ask again
      }
    },
    sendsQueued: () => (closed ? 0 : udp.getSendQueueCount()),
    sendAndWait: (reply, port, address) =>
      new Promise<void>((resolve) => {
        try {
          udp.send(reply, port, address, () => resolve());
        } catch {
          resolve();
        }
      }),
    connect: (port, host) =>
      new Promise<void>((resolve, reject) => {
        udp.connect(port, host, (error?: Error) => (error ? reject(error) : resolve()));
      }),
    disconnect: () => udp.disconnect(),
    setReading(on) {
      const handle = handleOf(udp);
      if (handle === null) dropping = !on;
      else if (on) handle.recvStart();
      else handle.recvStop();
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        udp.close(() => resolve());
      }),
  };
}
