// DNS over TCP framing (RFC 1035 4.2.2, RFC 7766): a 2-byte length before each message.

/** Takes each message as a span of a buffer: no view per message, no closure per chunk. */
export interface FrameSink {
  onFrame(buf: Buffer, start: number, end: number): void;
}

/** Reassembles length-prefixed messages from stream chunks that split or coalesce them. */
export class FrameReader {
  private rest: Buffer | null = null;

  /** Feed one chunk; calls `onFrame` for every complete message, in order. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.feed(chunk, { onFrame: (buf, start, end) => onFrame(buf.subarray(start, end)) });
  }

  /** Like push, handing `sink` each message as [start, end) of a buffer valid only during the call. */
  feed(chunk: Buffer, sink: FrameSink): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let offset = 0;
    while (offset + 2 <= buf.length) {
      const length = (buf[offset]! << 8) | buf[offset + 1]!;
      const end = offset + 2 + length;
      if (end > buf.length) break;
      const start = offset + 2;
      offset = end;
      if (length > 0) sink.onFrame(buf, start, end);
    }
    if (offset < buf.length) this.rest = buf.subarray(offset);
  }

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.rest === null ? 0 : this.rest.length;
  }
}

/** The TCP frame for `message` with its ID replaced by `id`. */
export function encodeFrame(message: Buffer, id: number): Buffer {
  const out = Buffer.allocUnsafe(message.length + 2);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  out.writeUInt16BE(id, 2);
  return out;
}
