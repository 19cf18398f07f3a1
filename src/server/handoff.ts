// Rolling updates without lost queries: find out whether a successor already serves our addresses
// (it answers a handoff probe that we and our workers drop), then step aside.

import dgram from "node:dgram";
import { writeFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { buildQuery, nameToWire, TYPE } from "../dns/index.ts";

export interface Address {
  host: string;
  port: number;
}

/**
 * True when every address answers at least one of `probes` handoff queries (each from its own
 * source port, so SO_REUSEPORT spreads them over every socket in the group) within `timeoutMs`.
 */
export async function successorServes(
  addresses: Address[],
  probeName: string,
  probes = 16,
  timeoutMs = 300,
): Promise<boolean> {
  if (addresses.length === 0) return false;
  const wire = nameToWire(probeName);
  const results = await Promise.all(addresses.map((a) => anyAnswer(a, wire, probes, timeoutMs)));
  return results.every(Boolean);
}

function anyAnswer(address: Address, wire: Buffer, probes: number, timeoutMs: number): Promise<boolean> {
  const host = address.host === "::" ? "::1" : address.host === "0.0.0.0" ? "127.0.0.1" : address.host;
  return new Promise((resolve) => {
    const sockets: dgram.Socket[] = [];
    let settled = false;
    const finish = (answered: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const s of sockets) s.close();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    for (let i = 0; i < probes; i++) {
      const socket = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");
      sockets.push(socket);
      socket.on("error", () => {});
      socket.on("message", (msg) => {
        if (msg.length >= 12) finish(true);
      });
      socket.send(buildQuery(i, wire, TYPE.A, false), address.port, host);
    }
  });
}

/**
 * Ask the kernel to move connections still waiting in a closing listener's accept queue to another
 * listener of the same SO_REUSEPORT group (Linux >= 5.14), instead of resetting them. Best effort.
 */
export async function enableTcpMigration(): Promise<boolean> {
  try {
    await writeFile("/proc/sys/net/ipv4/tcp_migrate_req", "1");
    return true;
  } catch {
    return false;
  }
}
