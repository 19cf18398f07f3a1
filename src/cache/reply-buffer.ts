// Reusable memory for cache hits: one buffer the replies are rendered into, and a view of it for
// each reply length seen (dgram sends a Buffer's whole length), so a hit creates no object.
// A socket that cannot send at once queues the request and keeps a reference to the buffer; the
// caller then retires it and later hits use a new one (the old one is freed once that send is done).

import { OPT_RECORD_LENGTH } from "../dns/index.ts";
import { LARGE_SLOT_BYTES } from "./arena.ts";

/** The largest stored reply plus our OPT record. */
export const MAX_RENDERED = LARGE_SLOT_BYTES + OPT_RECORD_LENGTH;

export class ReplyBuffer {
  private buffer = Buffer.allocUnsafeSlow(MAX_RENDERED);
  private readonly views: (Buffer | undefined)[] = new Array(MAX_RENDERED + 1).fill(undefined);

  /** The memory to render into (valid until the next call to viewOf). */
  get memory(): Buffer {
    return this.buffer;
  }

  /** The first `length` bytes as a Buffer of exactly that length. */
  viewOf(length: number): Buffer {
    let view = this.views[length];
    if (view === undefined) {
      view = this.buffer.subarray(0, length);
      this.views[length] = view;
    }
    return view;
  }

  /** The buffer is held by a queued send: render into a fresh one from now on. */
  retire(): void {
    this.buffer = Buffer.allocUnsafeSlow(MAX_RENDERED);
    this.views.fill(undefined);
  }
}
