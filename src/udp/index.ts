// The listener's UDP socket: batched through the native addon (recvmmsg/sendmmsg) when it is built
// and loads, else node:dgram. NLD_UDP_IO=dgram forces the fallback (an escape hatch, and how the
// tests keep it covered).

import { batchedUnavailable, loadBatched, openBatched } from "./batched.ts";
import { openDgram } from "./dgram.ts";
import type { DatagramHandler, UdpEndpoint, UdpOptions } from "./types.ts";

export type { DatagramHandler, UdpEndpoint, UdpOptions } from "./types.ts";

export type UdpIoKind = "batched" | "dgram";

/** Which UDP path sockets opened now will use, and why when it is the fallback. */
export function udpIo(env: NodeJS.ProcessEnv = process.env): { kind: UdpIoKind; reason: string } {
  const wanted = env.NLD_UDP_IO ?? "";
  if (wanted === "dgram") return { kind: "dgram", reason: "NLD_UDP_IO=dgram" };
  if (wanted !== "" && wanted !== "batched")
    return { kind: "dgram", reason: `NLD_UDP_IO=${wanted} is not one of batched, dgram` };
  return loadBatched() === null
    ? { kind: "dgram", reason: batchedUnavailable() }
    : { kind: "batched", reason: "" };
}

/** Endpoints open in this process (the wedged-socket test hook finds them here). */
const open = new Set<UdpEndpoint>();

export function openEndpoints(): readonly UdpEndpoint[] {
  return [...open];
}

export async function openUdp(
  options: UdpOptions,
  onDatagram: DatagramHandler,
  env: NodeJS.ProcessEnv = process.env,
): Promise<UdpEndpoint> {
  const native = udpIo(env).kind === "batched" ? loadBatched() : null;
  const endpoint =
    native === null ? await openDgram(options, onDatagram) : openBatched(native, options, onDatagram);
  open.add(endpoint);
  const close = endpoint.close.bind(endpoint);
  endpoint.close = async () => {
    open.delete(endpoint);
    await close();
  };
  return endpoint;
}
