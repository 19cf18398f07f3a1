// The loop probe's names and its one UDP exchange with our own listener.

import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { buildQuery, nameToWire, TYPE } from "../dns/index.ts";

/** `<random>.<random>.<zone>`, as CoreDNS's loop plugin: two decimal labels of 12+ digits. */
export function probeName(zone: string): string {
  const label = () => String(randomInt(1e11, 2 ** 47));
  return `${label()}.${label()}.${zone === "." ? "" : zone}`;
}

/**
 * Whether a lowercase presentation name has the probe shape: two leading all-digit labels of 8+
 * digits (CoreDNS's rand.Int() values are almost always that long; ours always are).
 */
export function isProbeShaped(name: string): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(name);
  return m !== null && m[1]!.length >= 8 && m[2]!.length >= 8;
}

/** Sends `HINFO name` to host:port over UDP; resolves with the rcode, or null on timeout/error. */
export function sendProbe(
  host: string,
  port: number,
  name: string,
  timeoutMs: number,
): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(host) ? "udp6" : "udp4");
    const id = randomInt(0, 65536);
    let done = false;
    const finish = (rcode: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(rcode);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on("error", () => finish(null));
    sock.on("message", (reply) => {
      if (reply.length >= 12 && reply.readUInt16BE(0) === id) finish(reply[3]! & 0x0f);
    });
    // A failed connect comes to this callback (not to 'error') and leaves the socket unconnected.
    sock.connect(port, host, (err?: Error) => {
      if (err || done) {
        finish(null);
        return;
      }
      try {
        sock.send(buildQuery(id, nameToWire(name), TYPE.HINFO), (sendErr) => sendErr && finish(null));
      } catch {
        finish(null);
      }
    });
  });
}
