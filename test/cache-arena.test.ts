// The arena behind the packet cache: capacity, eviction policy, slots, over-size replies, TTL and
// serve_stale bookkeeping, cluster invalidation by name, and introspection.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as packet from "dns-packet";
import { cycle, zipf } from "../bench/workloads.ts";
import { LARGE_SLOT_BYTES, LARGE_SLOT_SHARE, MISS, PacketCache, SLOT_BYTES } from "../src/cache/index.ts";
import { KeyIndex } from "../src/cache/key-index.ts";
import { parseQuery, QueryView } from "../src/dns/index.ts";
import { cacheConfig as config } from "./support/cache-config.ts";
import { decodePacket, encodePacket, type LooseRecord } from "./support/loose-packet.ts";

function query(
  name: string,
  opts: { id?: number; type?: string; edns?: boolean; do?: boolean } = {},
): QueryView {
  const view = new QueryView();
  const buf = encodePacket({
    type: "query",
    id: opts.id ?? 1,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: opts.type ?? "A", class: "IN" }],
    additionals:
      opts.edns || opts.do
        ? [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: 1232,
              flags: opts.do ? packet.DNSSEC_OK : 0,
              options: [],
            },
          ]
        : [],
  });
  assert.equal(parseQuery(buf, view), 0);
  return view;
}

function aReply(name: string, count = 1, ttl = 300): Buffer {
  const answers: LooseRecord[] = [];
  for (let i = 0; i < count; i++)
    answers.push({ name, type: "A", ttl, data: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
  return encodePacket({
    type: "response",
    id: 1,
    flags: packet.RECURSION_AVAILABLE,
    questions: [{ name, type: "A", class: "IN" }],
    answers,
  });
}

const nx = (name: string) =>
  encodePacket({
    type: "response",
    id: 1,
    flags: packet.RECURSION_AVAILABLE | 3,
    questions: [{ name, type: "A", class: "IN" }],
    authorities: [
      {
        name: "cluster.local",
        type: "SOA",
        ttl: 30,
        data: {
          mname: "ns.dns.cluster.local",
          rname: "h.cluster.local",
          serial: 1,
          refresh: 1,
          retry: 1,
          expire: 1,
          minimum: 30,
        },
      } as LooseRecord,
    ],
  });

const name = (i: number) => `name${String(i).padStart(5, "0")}.bench.test`;

/** Hit ratio (%) of `cache` over a sequence of names: each miss inserts the name's reply. */
function hitRatio(cache: PacketCache, names: Iterable<number>, warm: number): number {
  let hits = 0;
  let total = 0;
  let i = 0;
  for (const n of names) {
    const q = query(name(n));
    const hit = cache.lookup(q) !== MISS;
    if (!hit) cache.insert(q, aReply(name(n)));
    if (i++ >= warm) {
      total++;
      if (hit) hits++;
    }
  }
  return (100 * hits) / total;
}

/** Plain LRU's hit ratio over the same sequence, for comparison. */
function lruRatio(capacity: number, names: Iterable<number>, warm: number): number {
  const lru = new Map<number, true>();
  let hits = 0;
  let total = 0;
  let i = 0;
  for (const n of names) {
    const hit = lru.delete(n);
    lru.set(n, true);
    if (lru.size > capacity) lru.delete(lru.keys().next().value!);
    if (i++ >= warm) {
      total++;
      if (hit) hits++;
    }
  }
  return (100 * hits) / total;
}

describe("cache arena", () => {
  test("capacity holds: the store never exceeds it and each eviction is reported", () => {
    let evicted = 0;
    const cache = new PacketCache(config({ success: { capacity: 50, maxTtl: 3600, minTtl: 5 } }), () => 0, {
      evicted: (kind) => {
        assert.equal(kind, "success");
        evicted++;
      },
    });
    for (let i = 0; i < 80; i++) cache.insert(query(name(i)), aReply(name(i)));
    assert.equal(cache.size("success"), 50);
    assert.equal(evicted, 30);
    let found = 0;
    for (let i = 0; i < 80; i++) if (cache.lookup(query(name(i))) !== MISS) found++;
    assert.equal(found, 50);
  });

  test("a cycle of names a little larger than the capacity keeps hitting (LRU gets none)", () => {
    const capacity = 2496; // the default 9,984 and 10,000 names, scaled by 1/4
    const names = 2500;
    const cache = new PacketCache(config({ success: { capacity, maxTtl: 3600, minTtl: 5 } }), () => 0);
    const ours = hitRatio(cache, cycle(names, 12 * names), 2 * names);
    const lru = lruRatio(capacity, cycle(names, 12 * names), 2 * names);
    assert.ok(ours >= 95, `hit ratio ${ours.toFixed(1)} %`);
    assert.ok(lru < 5, `LRU ${lru.toFixed(1)} %`);
  });

  test("on a Zipf-like workload it matches or beats LRU", () => {
    const capacity = 1000;
    const cache = new PacketCache(config({ success: { capacity, maxTtl: 3600, minTtl: 5 } }), () => 0);
    const ours = hitRatio(cache, zipf(20_000, 0.9, 120_000), 40_000);
    const lru = lruRatio(capacity, zipf(20_000, 0.9, 120_000), 40_000);
    assert.ok(ours >= lru, `ours ${ours.toFixed(1)} % vs LRU ${lru.toFixed(1)} %`);
  });

  test("an evicted entry's slot is reused for another name, and an old handle no longer holds it", () => {
    const cache = new PacketCache(config({ success: { capacity: 2, maxTtl: 3600, minTtl: 5 } }), () => 0);
    const handles = [0, 1, 2].map((i) => cache.insert(query(name(i)), aReply(name(i), i + 1))!.handle);
    assert.equal(cache.size("success"), 2);
    const gone = [0, 1].find((i) => cache.lookup(query(name(i))) === MISS)!;
    assert.equal(handles[2], handles[gone], "the new entry took the evicted one's slot");
    const keyGone = query(name(gone)).key;
    assert.equal(cache.holds(handles[gone]!, keyGone), false);
    const out = decodePacket(
      cache.render(cache.lookup(query(name(2), { id: 9 })), query(name(2), { id: 9 }), 512),
    );
    assert.equal(out.questions![0]!.name, name(2));
    assert.equal(out.answers!.length, 3, "the reused slot holds the new reply, not the old one's bytes");
  });

  test("a reply over the slot size borrows a large slot; over the large size it is answered, not cached", () => {
    const cache = new PacketCache(
      config({ success: { capacity: 2 * LARGE_SLOT_SHARE, maxTtl: 3600, minTtl: 5 } }),
      () => 0,
    );
    const big = aReply("big.example.com", 30);
    assert.ok(big.length > SLOT_BYTES && big.length < LARGE_SLOT_BYTES);
    const q = query("big.example.com", { id: 4 });
    assert.notEqual(cache.insert(q, big)!.handle, MISS);
    const out = decodePacket(cache.render(cache.lookup(q), q, 65535));
    assert.equal(out.answers!.length, 30);
    assert.equal(out.answers![29]!.data, "10.0.0.29");

    const huge = aReply("huge.example.com", 300);
    assert.ok(huge.length > LARGE_SLOT_BYTES);
    const result = cache.insert(query("huge.example.com"), huge)!;
    assert.equal(result.handle, MISS);
    assert.ok(result.uncached !== null, "still answerable for the waiters");
    assert.equal(cache.lookup(query("huge.example.com")), MISS);

    // Two large slots for 32 entries: a third large reply evicts an entry holding one.
    for (const n of ["l1.example.com", "l2.example.com"]) cache.insert(query(n), aReply(n, 30));
    const large = ["big.example.com", "l1.example.com", "l2.example.com"];
    assert.equal(large.filter((n) => cache.lookup(query(n)) !== MISS).length, 2);
    for (const n of large) {
      const h = cache.lookup(query(n));
      if (h !== MISS) assert.equal(decodePacket(cache.render(h, query(n), 65535)).answers![0]!.name, n);
    }
  });

  test("a UDP client with a small limit gets TC=1 from a cached reply", () => {
    const cache = new PacketCache(config(), () => 0);
    const q = query("big.example.com");
    cache.insert(q, aReply("big.example.com", 30));
    const out = decodePacket(cache.render(cache.lookup(q), q, 512));
    assert.equal(out.flag_tc, true);
    assert.equal(out.questions!.length, 1);
  });

  test("DO queries and plain queries are separate entries; OPT is added only for EDNS clients", () => {
    const cache = new PacketCache(config(), () => 0);
    cache.insert(query("a.example.com", { do: true }), aReply("a.example.com"));
    assert.equal(cache.lookup(query("a.example.com")), MISS);
    const q = query("A.Example.com", { do: true, id: 3 });
    const out = decodePacket(cache.render(cache.lookup(q), q, 1232));
    assert.equal(out.questions![0]!.name, "A.Example.com");
    assert.equal(out.additionals!.length, 1);
  });

  test("keepttl shows each record's own TTL without counting down", () => {
    let now = 0;
    const cache = new PacketCache(config({ keepTtl: true }), () => now);
    const q = query("k.example.com");
    cache.insert(q, aReply("k.example.com", 1, 120));
    now = 50_000;
    assert.equal(decodePacket(cache.render(cache.lookup(q), q, 512)).answers![0]!.ttl, 120);
  });

  test("an entry past serve_stale is dropped on lookup and preferred for eviction", () => {
    let now = 0;
    const cache = new PacketCache(
      config({
        success: { capacity: 4, maxTtl: 10, minTtl: 5 },
        serveStale: { durationSec: 5, mode: "immediate" },
      }),
      () => now,
    );
    cache.insert(query("old.example.com"), aReply("old.example.com"));
    now = 12_000;
    const stale = cache.lookup(query("old.example.com"));
    assert.notEqual(stale, MISS);
    assert.equal(cache.isStale(stale), true);
    now = 16_000;
    for (let i = 0; i < 3; i++) cache.insert(query(name(i)), aReply(name(i)));
    for (let i = 0; i < 3; i++) cache.lookup(query(name(i))); // popular
    cache.insert(query(name(9)), aReply(name(9)));
    for (let i = 0; i < 3; i++)
      assert.notEqual(cache.lookup(query(name(i))), MISS, "the dead entry went first");
    assert.equal(cache.lookup(query("old.example.com")), MISS);
    assert.equal(cache.size("success"), 4);
  });

  test("prefetch counts hits per window and refreshing is per entry", () => {
    let now = 0;
    const cache = new PacketCache(
      config({ prefetch: { amount: 2, durationSec: 10, percentage: 50 } }),
      () => now,
    );
    const q = query("p.example.com");
    cache.insert(q, aReply("p.example.com", 1, 100));
    const h = cache.lookup(q);
    now = 60_000;
    assert.equal(cache.shouldPrefetch(h), false);
    now = 75_000; // a new window: the count starts again
    assert.equal(cache.shouldPrefetch(h), false);
    assert.equal(cache.shouldPrefetch(h), true);
    cache.setRefreshing(h, true);
    assert.equal(cache.shouldPrefetch(h), false, "already refreshing");
  });

  test("cluster invalidation by name drops entries at and under the names, only in volatile zones", () => {
    const cache = new PacketCache(
      config({ denial: { capacity: 3, maxTtl: 1800, minTtl: 5 } }),
      () => 0,
      undefined,
      ["cluster.local."],
    );
    for (const n of ["a.ns.svc.cluster.local", "x.a.ns.svc.cluster.local", "b.ns.svc.cluster.local"])
      cache.insert(query(n), nx(n));
    cache.insert(query("a.ns.svc.example.com"), aReply("a.ns.svc.example.com"));
    // An evicted volatile entry is forgotten too: a fourth denial evicts one of the three.
    cache.insert(query("c.ns.svc.cluster.local"), nx("c.ns.svc.cluster.local"));
    const before = cache.size("denial");
    const dropped = cache.invalidateNames(["A.ns.svc.cluster.local"]);
    assert.ok(dropped <= 2 && cache.size("denial") === before - dropped);
    assert.equal(cache.lookup(query("a.ns.svc.cluster.local")), MISS);
    assert.equal(cache.lookup(query("x.a.ns.svc.cluster.local")), MISS);
    assert.notEqual(cache.lookup(query("a.ns.svc.example.com")), MISS, "outside the volatile zones");
    const remaining = cache.size("denial");
    assert.equal(cache.invalidateVolatile(), remaining);
    assert.equal(cache.size("denial"), 0);
    assert.equal(cache.size("success"), 1);
  });

  test("introspection: entriesUnder, lookupInfo without side effects, flushUnder", () => {
    let now = 0;
    const cache = new PacketCache(config(), () => now);
    cache.insert(query("www.example.com"), aReply("www.example.com", 1, 60));
    cache.insert(query("a.www.example.com", { do: true }), aReply("a.www.example.com"));
    cache.insert(query("nx.example.org"), nx("nx.example.org"));
    cache.lookup(query("www.example.com"));
    now = 10_000;
    const info = cache.lookupInfo("WWW.example.com.", 1)!;
    assert.deepEqual(info, {
      name: "www.example.com.",
      type: 1,
      rcode: 0,
      kind: "success",
      ttlLeft: 50,
      stale: false,
      hits: 1,
      dnssecOk: false,
    });
    assert.equal(cache.lookupInfo("www.example.com", 1)!.hits, 1, "lookupInfo counts no hit");
    assert.equal(
      cache.lookupInfo("a.www.example.com", 1),
      null,
      "the DO entry is not what a plain query gets",
    );
    assert.equal(cache.lookupInfo("a.www.example.com", 1, true)!.dnssecOk, true);
    assert.deepEqual(
      cache
        .entriesUnder("www.example.com")
        .map((e) => e.name)
        .sort(),
      ["a.www.example.com.", "www.example.com."],
    );
    assert.equal(cache.entriesUnder("example.org")[0]!.kind, "denial");
    assert.equal(cache.flushUnder("example.com"), 2);
    assert.equal(cache.lookup(query("www.example.com")), MISS);
    assert.equal(cache.size("denial"), 1);
  });

  test("the key index agrees with a Map through random inserts and deletes (backward-shift deletion)", () => {
    const index = new KeyIndex(64);
    const model = new Map<number, number>();
    let x = 12345;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    // Few distinct keys with full 53-bit spread: long probe runs and many wrap-arounds.
    const keys = Array.from({ length: 100 }, () => (rand() % 0x200000) * 0x100000000 + rand());
    for (let step = 0; step < 20_000; step++) {
      const key = keys[rand() % keys.length]!;
      if (rand() % 3 === 0 || model.size >= 120) {
        index.delete(key, model.get(key) ?? -2);
        model.delete(key);
      } else {
        index.set(key, step);
        model.set(key, step);
      }
      if (step % 97 === 0) for (const k of keys) assert.equal(index.get(k), model.get(k) ?? -1);
    }
  });
});
