// What the listener needs of a UDP socket, whichever way datagrams are read and written.

/**
 * One received datagram. `slot` names it within the batch being handled (-1 when the socket does
 * not batch); a reply sent with that slot before the handler returns goes out with the batch.
 */
export type DatagramHandler = (packet: Buffer, address: string, port: number, slot: number) => void;

export interface UdpOptions {
  host: string;
  port: number;
  reusePort: boolean;
  /** SO_RCVBUF / SO_SNDBUF wanted (the kernel caps them at net.core.[rw]mem_max). */
  bufferBytes: number;
}

export interface UdpEndpoint {
  readonly host: string;
  readonly port: number;
  /** "batched": recvmmsg/sendmmsg through the native addon; "dgram": node:dgram. */
  readonly kind: "batched" | "dgram";
  /**
   * Packets handed to the handler are views of memory the next batch overwrites: whatever must
   * outlive the handler's return has to be copied.
   */
  readonly borrowsPackets: boolean;
  /** Send a reply; `slot` >= 0 only while that datagram's handler runs. Never throws. */
  reply(reply: Buffer, port: number, address: string, slot: number): void;
  /** Replies accepted but not yet handed to the kernel that still hold the caller's buffer. */
  sendsQueued(): number;
  /** Send and resolve once the datagram has left (or failed). */
  sendAndWait(reply: Buffer, port: number, address: string): Promise<void>;
  /** Connect to a peer (only its datagrams are received; sends elsewhere fail). */
  connect(port: number, host: string): Promise<void>;
  disconnect(): void;
  /** Stop or resume reading (the wedged-socket test hook): datagrams wait in the kernel's queue. */
  setReading(on: boolean): void;
  close(): Promise<void>;
}
