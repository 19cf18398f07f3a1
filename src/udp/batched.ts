// Batched UDP through native/udp.c: datagrams arrive in preallocated slots, a batch per readiness
// event, and replies sent while a batch is handled leave together in one sendmmsg. Per datagram
// this allocates one Buffer view of its slot; addresses are text from a small memo.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { DatagramHandler, UdpEndpoint, UdpOptions } from "./types.ts";

interface NativeUdp {
  readonly maxSlots: number;
  readonly metaInts: number;
  open(
    host: string,
    port: number,
    reusePort: number,
    recvBufferBytes: number,
    sendBufferBytes: number,
    recv: Buffer,
    meta: Int32Array,
    onBatch: (count: number) => void,
  ): NativeSocket;
  send(socket: NativeSocket, reply: Buffer, length: number, slot: number): void;
  sendTo(socket: NativeSocket, reply: Buffer, length: number, port: number, address: string): void;
  address(socket: NativeSocket, slot: number): string;
  connect(socket: NativeSocket, address?: string, port?: number): void;
  queued(socket: NativeSocket): number;
  reading(socket: NativeSocket, on: boolean): void;
  close(socket: NativeSocket): void;
}
type NativeSocket = { readonly __nativeUdp: unique symbol };

/** Datagrams read per system call. Each slot holds one query; a bigger one is dropped. */
const SLOTS = 32;
/** A query is a header, a name of at most 255 bytes, EDNS options: far below this. */
const SLOT_BYTES = 2048;
/** Distinct client addresses whose text is kept (a node's pods, a handful of hosts). */
const ADDRESS_MEMO = 4096;

/**
 * Where `npm run build` puts the addon: dist/native, beside this module once compiled (so a copy of
 * dist, as bench/ runs, carries it), or the build's when running from src/.
 */
const ADDON_CANDIDATES = ["../native/udp.node", "../../dist/native/udp.node"].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);
export const ADDON_PATH = ADDON_CANDIDATES.find((p) => existsSync(p)) ?? ADDON_CANDIDATES[0]!;

let loaded: NativeUdp | null | undefined;
let loadError = "";

/** The addon, or null with `batchedUnavailable()` saying why. */
export function loadBatched(): NativeUdp | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (!existsSync(ADDON_PATH)) loadError = `${ADDON_PATH} is missing (npm run build compiles it)`;
  else {
    try {
      loaded = createRequire(import.meta.url)(ADDON_PATH) as NativeUdp;
    } catch (error) {
      loadError = `${ADDON_PATH}: ${(error as Error).message}`;
    }
  }
  return loaded;
}

export function batchedUnavailable(): string {
  return loadError;
}

export function openBatched(
  native: NativeUdp,
  options: UdpOptions,
  onDatagram: DatagramHandler,
): UdpEndpoint {
  const metaInts = native.metaInts;
  const recv = Buffer.alloc(SLOTS * SLOT_BYTES);
  const meta = new Int32Array(SLOTS * metaInts);
  const slots: Buffer[] = [];
  for (let i = 0; i < SLOTS; i++) slots.push(recv.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES));
  const memo = new Map<number, string>();
  let closed = false;
  let socket: NativeSocket | null = null;

  const ipv4 = (value: number): string => {
    let text = memo.get(value);
    if (text === undefined) {
      text = `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
      if (memo.size >= ADDRESS_MEMO) memo.clear();
      memo.set(value, text);
    }
    return text;
  };

  const onBatch = (count: number): void => {
    const handle = socket;
    if (handle === null) return;
    for (let i = 0; i < count; i++) {
      const m = i * metaInts;
      if (meta[m + 3] !== 0) continue; // larger than a slot: not a query we could answer
      const address = meta[m + 2] === 4 ? ipv4(meta[m + 4]!) : native.address(handle, i);
      onDatagram(slots[i]!.subarray(0, meta[m]), address, meta[m + 1]!, i);
    }
  };

  socket = native.open(
    options.host,
    options.port,
    options.reusePort ? 1 : 0,
    options.bufferBytes,
    options.bufferBytes,
    recv,
    meta,
    onBatch,
  );
  const handle = socket;

  const drained = async (): Promise<void> => {
    while (!closed && native.queued(handle) > 0) await new Promise((r) => setTimeout(r, 2));
  };

  return {
    kind: "batched",
    host: options.host,
    port: options.port,
    borrowsPackets: true,
    reply(reply, port, address, slot) {
      if (closed) return;
      if (slot >= 0) native.send(handle, reply, reply.length, slot);
      else native.sendTo(handle, reply, reply.length, port, address);
    },
    // Replies are copied when queued (a batch's, or behind a full send buffer): none holds the caller's.
    sendsQueued: () => 0,
    async sendAndWait(reply, port, address) {
      if (closed) return;
      native.sendTo(handle, reply, reply.length, port, address);
      await drained();
    },
    async connect(port, host) {
      native.connect(handle, host, port);
    },
    disconnect() {
      native.connect(handle);
    },
    setReading(on) {
      native.reading(handle, on);
    },
    async close() {
      if (closed) return;
      await drained();
      closed = true;
      socket = null;
      native.close(handle);
    },
  };
}
