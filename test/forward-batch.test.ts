// The forwarder's TCP batch writer: frames written in one event-loop turn leave in one write of a
// reusable buffer; a stream that is backed up (an upstream that stopped reading) queues only the
// frames' own bytes, never a whole batch buffer per flush (that grew a 60 s outage by ~50 MiB).

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { BatchWriter } from "../src/forward/batch.ts";

const turn = () => new Promise((resolve) => setImmediate(resolve));

function query(length: number): Buffer {
  const b = Buffer.alloc(length, 7);
  b.writeUInt16BE(0xabcd, 0);
  return b;
}

test("frames of one turn leave as one write, each with its length and its new ID", async () => {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const writer = new BatchWriter(stream);
  writer.frame(query(40), 40, 1);
  writer.frame(query(50), 50, 2);
  await turn();
  assert.equal(chunks.length, 1);
  const c = chunks[0]!;
  assert.equal(c.length, 2 + 40 + 2 + 50);
  assert.equal(c.readUInt16BE(0), 40);
  assert.equal(c.readUInt16BE(2), 1);
  assert.equal(c.readUInt16BE(42), 50);
  assert.equal(c.readUInt16BE(44), 2);
});

test("a backed-up stream queues exact-size copies, not a batch buffer per flush", async () => {
  const sizes: number[] = [];
  // Never completes a write: everything after the first waits in the stream's queue.
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer) {
      sizes.push(chunk.length);
    },
  });
  const writer = new BatchWriter(stream);
  for (let i = 0; i < 50; i++) {
    writer.frame(query(60), 60, i + 1);
    await turn();
  }
  assert.ok(stream.writableLength > 0, "backed up");
  // The first write got the batch buffer (a view of 62 bytes); the 49 queued ones hold 62 bytes each.
  assert.equal(stream.writableLength, 50 * 62);
  const queued = (stream as unknown as { writableBuffer: { chunk: Buffer }[] }).writableBuffer;
  assert.ok(queued.length >= 48);
  for (const entry of queued)
    assert.notEqual(entry.chunk.buffer.byteLength, 4096, "a queued frame keeps a 4 KiB batch buffer alive");
});
