// UDP query objects are reused once answered (a miss's query lived about one young-generation
// collection, so a new one per datagram was promoted). Reuse must never hand a query that other work
// may still complete to another client: only answered queries with no flight waiting on them are
// released, and a failure answered (a plugin threw) marks the object as never reusable.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Query, type ReplyInterceptor, type Transport } from "../src/server/query.ts";

function transport() {
  const released: Query[] = [];
  const sent: Buffer[] = [];
  const t: Transport = {
    proto: "udp",
    server: "dns://127.0.0.1:53",
    send: (_q, reply) => sent.push(reply),
    release(query) {
      if (query.releasable) released.push(query);
    },
  };
  return { t, released, sent };
}

test("an answered query is released once, after its reply and observer", () => {
  const { t, released, sent } = transport();
  const q = new Query(t, "10.0.0.1", 5353, 1);
  const order: string[] = [];
  q.observer = { replied: () => order.push(`observed ${released.length}`) };
  q.sendFinal(Buffer.from([1]));
  q.sendFinal(Buffer.from([2])); // ignored: exactly one answer
  assert.deepEqual(order, ["observed 0"]);
  assert.equal(sent.length, 1);
  assert.deepEqual(released, [q]);
});

test("a query still intercepted by a flight is not released", () => {
  const { t, released } = transport();
  const q = new Query(t, "10.0.0.1", 5353, 1);
  const flight: ReplyInterceptor = { complete() {} };
  q.interceptor = flight;
  q.sendFinal(Buffer.from([1]));
  assert.deepEqual(released, []);
});

test("a failure answered marks the query never reusable, even after it was released", () => {
  const { t, released } = transport();
  const failed = new Query(t, "10.0.0.1", 5353, 1);
  failed.sendFailure(() => Buffer.from([9]));
  assert.equal(failed.answered, true);
  assert.equal(failed.reusable, false);
  assert.deepEqual(released, []);

  // Answered first, then a plugin threw: it is already among the spares, but marked.
  const late = new Query(t, "10.0.0.2", 5353, 1);
  late.sendFinal(Buffer.from([1]));
  let built = 0;
  late.sendFailure(() => {
    built++;
    return Buffer.from([9]);
  });
  assert.equal(built, 0, "no second answer is built");
  assert.equal(late.reusable, false, "the listener skips it when it pops it");

  late.reuse("10.0.0.3", 1);
  assert.equal(late.reusable, true);
  assert.equal(late.answered, false);
});

test("a borrowed packet is copied into the query's own memory, reused with the object", () => {
  const { t } = transport();
  const q = new Query(t, "10.0.0.1", 5353, 1);
  const slot = Buffer.from("borrowed-bytes");
  q.buf = slot.subarray(0, 8);
  q.ownPacket();
  slot.fill(0);
  assert.equal(q.buf.toString(), "borrowed");
  const first = q.buf.buffer;
  q.buf = Buffer.from("second!!");
  q.ownPacket();
  assert.equal(q.buf.buffer, first, "the same memory serves the next packet");
  q.buf = Buffer.alloc(600, 1);
  q.ownPacket();
  assert.equal(q.buf.length, 600);
});
