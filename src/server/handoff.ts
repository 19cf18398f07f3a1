// Rolling updates without lost queries: find out whether a successor already serves our addresses
// (it answers a handoff probe that we and our workers drop), then step aside.

import dgram from "node:dgram";
import { readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { ipFamily, ipv4Bytes, ipv6Bytes } from "../cluster/index.ts";
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

/** What `otherSocketBound` reads: /proc/net/udp{,6} and the socket inodes of our own processes. */
export interface SocketTable {
  udpTables(): Promise<string[]>;
  /** Socket inodes of this process and of `pids` (sibling workers of the same instance). */
  ownInodes(pids: readonly number[]): Promise<Set<string>>;
}

export const procSocketTable: SocketTable = {
  async udpTables() {
    const tables = await Promise.all(
      ["/proc/net/udp", "/proc/net/udp6"].map((f) => readFile(f, "utf8").catch(() => "")),
    );
    if (tables.every((t) => t === "")) throw new Error("no /proc/net/udp");
    return tables;
  },
  async ownInodes(pids) {
    const inodes = new Set<string>();
    for (const pid of ["self", ...pids]) {
      const dir = `/proc/${pid}/fd`;
      for (const fd of await readdir(dir).catch(() => [])) {
        const target = await readlink(`${dir}/${fd}`).catch(() => "");
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m !== null) inodes.add(m[1]!);
      }
    }
    return inodes;
  },
};

/**
 * Whether a UDP socket of another process is bound to one of `addresses` (a successor), our own
 * process and `siblingPids` (the other workers of this instance) aside: the kernel's own table, so it
 * is known at once, however busy that process is. True when the table cannot be read (the caller
 * then probes as if there might be one).
 */
export async function otherSocketBound(
  addresses: Address[],
  table: SocketTable = procSocketTable,
  siblingPids: readonly number[] = [],
): Promise<boolean> {
  let tables: string[];
  let own: Set<string>;
  try {
    [tables, own] = await Promise.all([table.udpTables(), table.ownInodes(siblingPids)]);
  } catch {
    return true;
  }
  const wanted = new Set(addresses.map((a) => procAddress(a.host, a.port)).filter((x) => x !== null));
  for (const text of tables) {
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10) continue;
      if (wanted.has(fields[1]!.toUpperCase()) && !own.has(fields[9]!)) return true;
    }
  }
  return false;
}

/** HOST:PORT as /proc/net/udp{,6} prints a local address (32-bit words in host order: little-endian). */
export function procAddress(host: string, port: number): string | null {
  const family = ipFamily(host);
  if (family === 0) return null;
  const bytes = family === 4 ? ipv4Bytes(host) : ipv6Bytes(host);
  for (let w = 0; w < bytes.length; w += 4) bytes.subarray(w, w + 4).reverse();
  return `${bytes.toString("hex").toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
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
