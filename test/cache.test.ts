import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as packet from "dns-packet";
import { MISS, PacketCache } from "../src/cache/index.ts";
import { parseQuery, QueryView } from "../src/dns/index.ts";
import { cacheConfig as config } from "./support/cache-config.ts";
import { decodePacket, encodePacket, type LooseRecord } from "./support/loose-packet.ts";

function query(name: string, id = 1): QueryView {
  const view = new QueryView();
  const buf = encodePacket({
    type: "query",
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: "A", class: "IN" }],
  });
  assert.equal(parseQuery(buf, view), 0);
  return view;
}

function reply(
  name: string,
  opts: { rcode?: string; answers?: LooseRecord[]; authorities?: LooseRecord[]; tc?: boolean } = {},
) {
  return encodePacket({
    type: "response",
    id: 1,
    flags:
      packet.RECURSION_AVAILABLE |
      (opts.tc ? packet.TRUNCATED_RESPONSE : 0) |
      ({ NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as Record<string, number>)[
        opts.rcode ?? "NOERROR"
      ]!,
    questions: [{ name, type: "A", class: "IN" }],
    answers: opts.answers ?? [],
    authorities: opts.authorities ?? [],
  });
}

const soa = (ttl: number, minimum: number): LooseRecord =>
  ({
    name: "example.com",
    type: "SOA",
    ttl,
    data: {
      mname: "ns.example.com",
      rname: "h.example.com",
      serial: 1,
      refresh: 1,
      retry: 1,
      expire: 1,
      minimum,
    },
  }) as LooseRecord;

describe("packet cache", () => {
  test("TTLs count down on hits and the entry expires", () => {
    let now = 1_000_000;
    const cache = new PacketCache(config(), () => now);
    const q = query("www.example.com");
    cache.insert(
      q,
      reply("www.example.com", {
        answers: [{ name: "www.example.com", type: "A", ttl: 60, data: "192.0.2.1" }],
      }),
    );
    now += 10_500;
    const hit = cache.lookup(query("WWW.EXAMPLE.COM", 77));
    assert.notEqual(hit, MISS);
    const out = decodePacket(cache.render(hit, query("WWW.EXAMPLE.COM", 77), 512));
    assert.equal(out.id, 77);
    assert.equal(out.answers![0]!.ttl, 50);
    assert.equal(out.flag_aa, true);
    now += 50_000;
    assert.equal(cache.lookup(q), MISS);
  });

  test("success TTL is clamped to the configured maximum and minimum", () => {
    let now = 0;
    const cache = new PacketCache(config({ success: { capacity: 10, maxTtl: 30, minTtl: 5 } }), () => now);
    const q = query("a.example.com");
    cache.insert(
      q,
      reply("a.example.com", {
        answers: [{ name: "a.example.com", type: "A", ttl: 3600, data: "192.0.2.1" }],
      }),
    );
    assert.equal(cache.lifetimeOf(cache.lookup(q)), 30);
    const q2 = query("b.example.com");
    cache.insert(
      q2,
      reply("b.example.com", { answers: [{ name: "b.example.com", type: "A", ttl: 1, data: "192.0.2.1" }] }),
    );
    assert.equal(cache.lifetimeOf(cache.lookup(q2)), 5);
    now += 1;
  });

  test("NXDOMAIN lives min(SOA TTL, SOA MINIMUM), capped by the denial maximum", () => {
    const cache = new PacketCache(config(), () => 0);
    const q = query("nx.example.com");
    cache.insert(q, reply("nx.example.com", { rcode: "NXDOMAIN", authorities: [soa(300, 60)] }));
    assert.equal(cache.lifetimeOf(cache.lookup(q)), 60);
    assert.equal(cache.kindOf(cache.lookup(q)), "denial");
    const capped = new PacketCache(config({ denial: { capacity: 10, maxTtl: 20, minTtl: 5 } }), () => 0);
    capped.insert(q, reply("nx.example.com", { rcode: "NXDOMAIN", authorities: [soa(300, 600)] }));
    assert.equal(capped.lifetimeOf(capped.lookup(q)), 20);
  });

  test("SERVFAIL is cached briefly; REFUSED, TC=1 and NXDOMAIN without SOA are not", () => {
    const cache = new PacketCache(config(), () => 0);
    const q = query("x.example.com");
    assert.notEqual(cache.insert(q, reply("x.example.com", { rcode: "SERVFAIL" }))!.handle, MISS);
    assert.equal(cache.lifetimeOf(cache.lookup(q)), 5);
    for (const r of [
      reply("y.example.com", { rcode: "REFUSED" }),
      reply("y.example.com", { rcode: "NXDOMAIN" }),
      reply("y.example.com", {
        tc: true,
        answers: [{ name: "y.example.com", type: "A", ttl: 60, data: "192.0.2.1" }],
      }),
    ]) {
      assert.equal(cache.insert(query("y.example.com"), r)!.handle, MISS);
    }
    assert.equal(cache.lookup(query("y.example.com")), MISS);
  });

  test("serve_stale keeps expired entries servable for its duration", () => {
    let now = 0;
    const cache = new PacketCache(config({ serveStale: { durationSec: 60, mode: "immediate" } }), () => now);
    const q = query("s.example.com");
    cache.insert(
      q,
      reply("s.example.com", { answers: [{ name: "s.example.com", type: "A", ttl: 10, data: "192.0.2.1" }] }),
    );
    now = 30_000;
    const entry = cache.lookup(q);
    assert.ok(cache.isStale(entry));
    assert.equal(decodePacket(cache.render(entry, q, 512)).answers![0]!.ttl, 0);
    now = 71_000;
    assert.equal(cache.lookup(q), MISS);
  });

  test("prefetch triggers for popular entries near expiry", () => {
    let now = 0;
    const cache = new PacketCache(
      config({ prefetch: { amount: 3, durationSec: 120, percentage: 10 } }),
      () => now,
    );
    const q = query("p.example.com");
    cache.insert(
      q,
      reply("p.example.com", {
        answers: [{ name: "p.example.com", type: "A", ttl: 100, data: "192.0.2.1" }],
      }),
    );
    const entry = cache.lookup(q);
    assert.equal(cache.shouldPrefetch(entry), false);
    assert.equal(cache.shouldPrefetch(entry), false);
    assert.equal(cache.shouldPrefetch(entry), false, "popular but far from expiry");
    now = 91_000;
    assert.equal(cache.shouldPrefetch(entry), true);
  });

  test("invalidateNames drops a name and everything under it, within the volatile zones", () => {
    const cache = new PacketCache(config(), () => 0, undefined, ["cluster.local."]);
    for (const name of [
      "svc1.ns.svc.cluster.local",
      "_http._tcp.svc1.ns.svc.cluster.local",
      "svc2.ns.svc.cluster.local",
    ]) {
      cache.insert(query(name), reply(name, { rcode: "NXDOMAIN", authorities: [soa(30, 30)] }));
    }
    assert.equal(cache.invalidateNames(["svc1.ns.svc.cluster.local."]), 2);
    assert.notEqual(cache.lookup(query("svc2.ns.svc.cluster.local")), MISS);
    assert.equal(cache.invalidateVolatile(), 1);
    assert.equal(cache.lookup(query("svc2.ns.svc.cluster.local")), MISS);
  });

  test("introspection: entriesUnder, lookupInfo and flushUnder, by name and below", () => {
    let now = 1_000_000;
    const cache = new PacketCache(config({ serveStale: { durationSec: 60, mode: "immediate" } }), () => now);
    const a = (name: string, ttl: number) =>
      reply(name, { answers: [{ name, type: "A", ttl, data: "192.0.2.1" }] });
    cache.insert(query("www.example.com"), a("www.example.com", 60));
    cache.insert(query("api.www.example.com"), a("api.www.example.com", 10));
    cache.insert(query("wwwexample.com"), a("wwwexample.com", 60));
    cache.insert(
      query("gone.example.com"),
      reply("gone.example.com", { rcode: "NXDOMAIN", authorities: [soa(30, 30)] }),
    );
    assert.notEqual(cache.lookup(query("www.example.com")), MISS); // one hit
    now += 20_400;
    assert.deepEqual(cache.entriesUnder("WWW.example.com."), [
      {
        name: "api.www.example.com.",
        type: 1,
        rcode: 0,
        kind: "success",
        ttlLeft: 0,
        stale: true,
        hits: 0,
        dnssecOk: false,
      },
      {
        name: "www.example.com.",
        type: 1,
        rcode: 0,
        kind: "success",
        ttlLeft: 40,
        stale: false,
        hits: 1,
        dnssecOk: false,
      },
    ]);
    assert.equal(cache.entriesUnder("example.com").length, 3, "wwwexample.com. is not under example.com.");
    assert.deepEqual(cache.lookupInfo("gone.EXAMPLE.com", 1), {
      name: "gone.example.com.",
      type: 1,
      rcode: 3,
      kind: "denial",
      ttlLeft: 10,
      stale: false,
      hits: 0,
      dnssecOk: false,
    });
    assert.equal(cache.lookupInfo("www.example.com", 28), null, "another type");
    assert.equal(cache.lookupInfo("www.example.com", 1, true), null, "DO is part of the key");
    assert.equal(cache.flushUnder("www.example.com"), 2);
    assert.equal(cache.lookup(query("www.example.com")), MISS);
    assert.notEqual(cache.lookup(query("wwwexample.com")), MISS);
    now += 200_000;
    assert.deepEqual(cache.entriesUnder("."), [], "past serve_stale: gone");
  });

  test("lookupInfo and entriesUnder have no side effect: no hit counted", () => {
    const cache = new PacketCache(config({ success: { capacity: 2, maxTtl: 3600, minTtl: 5 } }), () => 0);
    const a = (name: string) => reply(name, { answers: [{ name, type: "A", ttl: 60, data: "192.0.2.1" }] });
    cache.insert(query("old.example.com"), a("old.example.com"));
    for (let i = 0; i < 5; i++) {
      assert.equal(cache.lookupInfo("old.example.com", 1)!.hits, 0);
      assert.equal(cache.entriesUnder("old.example.com")[0]!.hits, 0);
    }
    assert.notEqual(cache.lookup(query("old.example.com")), MISS);
    assert.equal(cache.lookupInfo("old.example.com", 1)!.hits, 1);
    assert.equal(cache.lookupInfo("not a name..", 1), null, "not a name: nothing cached");
  });
});
