// The frames one connection sends, copied into reusable buffers: frames written while the event loop
// reads a burst of queries leave in one write after it (setImmediate runs once the poll phase is
// done) instead of a Buffer, a stream entry and a syscall each.

import type { Writable } from "node:stream";

/** A batch this large is written at once rather than grown. */
const BATCH_BYTES = 4096;
/** Spare batch buffers kept per connection. */
const MAX_SPARE = 2;

export class BatchWriter {
  private readonly stream: Writable;
  private buf: Buffer | null = null;
  private length = 0;
  private scheduled = false;
  /** Buffers the stream still holds, oldest first: none is reused before its write completes. */
  private readonly writing: Buffer[] = [];
  private readonly spare: Buffer[] = [];
  private readonly flushBound = (): void => {
    this.scheduled = false;
    this.flush();
  };
  private readonly written = (): void => {
    const done = this.writing.shift();
    if (done !== undefined && done.length === BATCH_BYTES && this.spare.length < MAX_SPARE)
      this.spare.push(done);
  };

  constructor(stream: Writable) {
    this.stream = stream;
  }

  /** Queue the TCP frame of `message[0, length)` with its ID replaced by `id`. */
  frame(message: Buffer, length: number, id: number): void {
    const need = length + 2;
    if (this.buf !== null && this.length + need > this.buf.length) this.flush();
    if (this.buf === null) {
      this.buf =
        need > BATCH_BYTES
          ? Buffer.allocUnsafeSlow(need)
          : (this.spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES));
      this.length = 0;
    }
    const b = this.buf;
    const at = this.length;
    b[at] = length >> 8;
    b[at + 1] = length & 0xff;
    message.copy(b, at + 2, 0, length);
    b[at + 2] = id >> 8;
    b[at + 3] = id & 0xff;
    this.length = at + need;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  private flush(): void {
    const b = this.buf;
    if (b === null || this.length === 0) return;
    if (this.stream.destroyed) {
      this.buf = null;
      return;
    }
    if (this.stream.writableLength > 0) {
      // The stream is backed up (an upstream that stopped reading): what waits in its queue must be
      // the frames' own bytes, not a 4 KiB buffer per batch, which grew a 60 s outage by ~50 MiB.
      this.stream.write(Buffer.from(b.subarray(0, this.length)));
      this.length = 0;
      return;
    }
    this.buf = null;
    this.writing.push(b);
    this.stream.write(b.subarray(0, this.length), this.written);
  }
}
