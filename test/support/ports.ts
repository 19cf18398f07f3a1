// Free ports and distinct loopback addresses, so parallel test files do not collide.

import { createSocket } from "node:dgram";
import { createServer, isIPv6 } from "node:net";

function listenTcp(host: string, port: number): Promise<import("node:net").Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host, port, exclusive: true }, () => resolve(srv));
  });
}

function bindUdp(host: string, port: number): Promise<import("node:dgram").Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(host) ? "udp6" : "udp4", reuseAddr: false });
    sock.once("error", (err) => {
      sock.close();
      reject(err);
    });
    sock.bind({ address: host, port, exclusive: true }, () => resolve(sock));
  });
}

/** A port on `host` that was free for both UDP and TCP at the time of the call. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = await listenTcp(host, 0);
    const addr = tcp.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    try {
      const udp = await bindUdp(host, port);
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
      return port;
    } catch {
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  }
  throw new Error(`no port free for both udp and tcp on ${host}`);
}

// Index space of 240 * 254 addresses: 127.0.10.1 .. 127.0.249.254.
const SPAN = 240 * 254;
let next = (process.pid * 251) % SPAN;

/**
 * A distinct 127.0.x.y address per call (x in 10..249), offset by the process ID so that parallel
 * test processes usually get different ones. Linux answers the whole of 127.0.0.0/8 on `lo`.
 */
export function uniqueLoopback(): string {
  const i = next;
  next = (next + 1) % SPAN;
  return `127.0.${10 + Math.floor(i / 254)}.${1 + (i % 254)}`;
}

/** Formats host and port for logs and Corefiles: `1.2.3.4:53`, `[::1]:53`. */
export function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Only loopback is allowed as a target in tests. */
export function assertLoopback(host: string): void {
  if (!(host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new Error(`refusing non-loopback address in tests: ${host}`);
  }
}
