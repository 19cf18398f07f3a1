// Resolves a name through the daemon's own listening socket (ExternalName targets), so the answer
// takes the same path, cache included, as a client's would.

import { randomInt } from "node:crypto";
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { buildQuery } from "../dns/index.ts";

export class SelfResolver {
  private target: { host: string; port: number } | null = null;
  private readonly timeoutMs: number;

  constructor(timeoutMs = 2000) {
    this.timeoutMs = timeoutMs;
  }

  setTarget(target: { host: string; port: number } | null): void {
    this.target = target;
  }

  resolve(nameWire: Buffer, qtype: number): Promise<Buffer | null> {
    const target = this.target;
    if (target === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const socket = dgram.createSocket(isIPv6(target.host) ? "udp6" : "udp4");
      const id = randomInt(65536);
      let settled = false;
      const done = (reply: Buffer | null) => {
        if (settled) return; // a second close would throw
        settled = true;
        clearTimeout(timer);
        socket.close();
        resolve(reply);
      };
      const timer = setTimeout(() => done(null), this.timeoutMs);
      socket.on("error", () => done(null));
      socket.on("message", (msg) => {
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) done(msg);
      });
      try {
        socket.send(buildQuery(id, nameWire, qtype), target.port, target.host);
      } catch {
        done(null);
      }
    });
  }
}
