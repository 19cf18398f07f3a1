// loadbalance's wire shuffle (src/dns/shuffle.ts): records keep their meaning when they move, even
// when compression pointers point into them; every order shows up; nothing else changes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import dnsPacket from "dns-packet";
import { shuffleRecords } from "../src/dns/index.ts";

/** A tiny compressing encoder: every name suffix seen is reused by a pointer, as real servers do. */
class Writer {
  private readonly parts: number[] = [];
  private readonly seen = new Map<string, number>();
  get length() {
    return this.parts.length;
  }
  u16(v: number) {
    this.parts.push(v >> 8, v & 0xff);
  }
  u32(v: number) {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
  bytes(b: number[]) {
    this.parts.push(...b);
  }
  name(n: string) {
    const labels = n === "." ? [] : n.replace(/\.$/, "").split(".");
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".").toLowerCase();
      const at = this.seen.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      this.seen.set(suffix, this.length);
      this.parts.push(labels[i]!.length, ...Buffer.from(labels[i]!));
    }
    this.parts.push(0);
  }
  record(name: string, type: number, ttl: number, rdata: (w: Writer) => void) {
    this.name(name);
    this.u16(type);
    this.u16(1);
    this.u32(ttl);
    const lenAt = this.length;
    this.u16(0);
    rdata(this);
    const len = this.length - lenAt - 2;
    this.parts[lenAt] = len >> 8;
    this.parts[lenAt + 1] = len & 0xff;
  }
  buffer() {
    return Buffer.from(this.parts);
  }
}

const A = 1;
const CNAME = 5;
const MX = 15;
const TXT = 16;

/** www.example.test CNAME web.example.test; 4 A for web (owners point into the CNAME's RDATA);
 * 3 MX in authority (exchanges new names); glue A in additional pointing into the MX RDATA. */
function message(mxName = (i: number) => `mx${i}.example.test`): Buffer {
  const w = new Writer();
  w.u16(0x1234);
  w.u16(0x8180);
  w.u16(1);
  w.u16(6);
  w.u16(3);
  w.u16(3);
  w.name("www.example.test");
  w.u16(A);
  w.u16(1);
  w.record("www.example.test", CNAME, 300, (x) => x.name("web.example.test"));
  for (let i = 1; i <= 4; i++) w.record("web.example.test", A, 60 + i, (x) => x.bytes([10, 0, 0, i]));
  w.record("web.example.test", TXT, 30, (x) => x.bytes([2, 0x68, 0x69]));
  for (let i = 1; i <= 3; i++) {
    w.record("example.test", MX, 100, (x) => {
      x.u16(i * 10);
      x.name(mxName(i));
    });
  }
  for (let i = 1; i <= 3; i++) w.record(mxName(i), A, 200, (x) => x.bytes([192, 0, 2, i]));
  return w.buffer();
}

type Rec = { name: string; type: string; ttl?: number; data?: unknown };
const text = (r: Rec) => `${r.name} ${r.type} ${r.ttl} ${JSON.stringify(r.data)}`;

describe("shuffleRecords (loadbalance round_robin)", () => {
  test("moves records with pointers into them intact; CoreDNS's order; every order appears", () => {
    const original = dnsPacket.decode(message());
    const orders = new Set<string>();
    const mxOrders = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const buf = message();
      const length = buf.length;
      assert.equal(shuffleRecords(buf, length), true);
      const p = dnsPacket.decode(buf);
      for (const s of ["answers", "authorities", "additionals"] as const) {
        assert.deepEqual(
          (p[s] as Rec[]).map(text).sort(),
          (original[s] as Rec[]).map(text).sort(),
          `${s} keep every record`,
        );
      }
      const types = (p.answers as Rec[]).map((r) => r.type);
      assert.deepEqual(types, ["CNAME", "TXT", "A", "A", "A", "A"], "cname, rest, addresses");
      orders.add((p.answers as Rec[]).map((r) => String(r.data)).join(","));
      mxOrders.add((p.authorities as Rec[]).map((r) => JSON.stringify(r.data)).join(","));
      assert.deepEqual(p.questions, original.questions);
      assert.equal(p.id, 0x1234);
    }
    assert.equal(orders.size, 24, "all 4! orders of the A records");
    assert.equal(mxOrders.size, 6, "all 3! orders of the MX records");
  });

  test("a record whose name a later one reuses by pointer keeps the pointers backward", () => {
    const shared = (i: number) => `mx${i}.mail.example.test`; // mx2, mx3 point into mx1's RDATA
    const original = dnsPacket.decode(message(shared));
    const mxOrders = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const buf = message(shared);
      shuffleRecords(buf, buf.length);
      const p = dnsPacket.decode(buf); // throws on a forward or broken pointer
      assert.deepEqual(
        (p.authorities as Rec[]).map(text).sort(),
        (original.authorities as Rec[]).map(text).sort(),
      );
      assert.deepEqual(
        (p.additionals as Rec[]).map(text).sort(),
        (original.additionals as Rec[]).map(text).sort(),
      );
      mxOrders.add((p.authorities as Rec[]).map((r) => JSON.stringify(r.data)).join(","));
    }
    assert.equal(mxOrders.size, 2, "mx1 stays first; mx2 and mx3 swap");
  });

  test("nothing to shuffle, or unreadable: untouched", () => {
    const single = dnsPacket.encode({
      type: "response",
      id: 1,
      questions: [{ name: "a.test", type: "A" }],
      answers: [{ name: "a.test", type: "A", ttl: 5, data: "10.0.0.1" }],
    });
    const copy = Buffer.from(single);
    assert.equal(shuffleRecords(single, single.length), false);
    assert.deepEqual(single, copy);
    const broken = message().subarray(0, 80);
    const before = Buffer.from(broken);
    assert.equal(shuffleRecords(broken, broken.length), false);
    assert.deepEqual(broken, before);
  });
});
