import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as packet from "dns-packet";
import fc from "fast-check";
import {
  errorReply,
  fitToLimit,
  nameInZone,
  nameToWire,
  PARSE_BADVERS,
  PARSE_DROP,
  PARSE_FORMERR,
  PARSE_NOTIMP,
  PARSE_OK,
  parseQuery,
  QueryView,
  RCODE,
  renderStored,
  scanReply,
  toStored,
} from "../src/dns/index.ts";
import { decodePacket, encodePacket } from "./support/loose-packet.ts";

function encodeQuery(name: string, type = "A", opts: { id?: number; edns?: number; do?: boolean } = {}) {
  return encodePacket({
    type: "query",
    id: opts.id ?? 4242,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals:
      opts.edns === undefined
        ? []
        : [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: opts.edns,
              flags: opts.do ? packet.DNSSEC_OK : 0,
              options: [],
            },
          ],
  });
}

describe("parseQuery", () => {
  test("reads header, question and EDNS", () => {
    const view = new QueryView();
    assert.equal(
      parseQuery(encodeQuery("Example.COM", "AAAA", { id: 7, edns: 4096, do: true }), view),
      PARSE_OK,
    );
    assert.equal(view.id, 7);
    assert.equal(view.qtype, 28);
    assert.equal(view.qclass, 1);
    assert.equal(view.hasOpt, true);
    assert.equal(view.udpSize, 4096);
    assert.equal(view.dnssecOk, true);
  });

  test("names differing only in case share a key; type and DO bit do not", () => {
    const key = (buf: Buffer) => {
      const v = new QueryView();
      assert.equal(parseQuery(buf, v), PARSE_OK);
      return v.key;
    };
    assert.equal(key(encodeQuery("ExAmPlE.com")), key(encodeQuery("example.COM")));
    assert.notEqual(key(encodeQuery("example.com")), key(encodeQuery("example.com", "AAAA")));
    assert.notEqual(
      key(encodeQuery("example.com", "A", { edns: 1232 })),
      key(encodeQuery("example.com", "A", { edns: 1232, do: true })),
    );
    assert.notEqual(key(encodeQuery("example.com")), key(encodeQuery("example.org")));
  });

  test("EDNS sizes under 512 count as 512", () => {
    const view = new QueryView();
    parseQuery(encodeQuery("a.b", "A", { edns: 100 }), view);
    assert.equal(view.udpSize, 512);
  });

  test("short packets and responses are dropped; bad questions are FORMERR", () => {
    const view = new QueryView();
    assert.equal(parseQuery(Buffer.alloc(5), view), PARSE_DROP);
    const response = encodeQuery("a.b");
    response[2]! |= 0x80;
    assert.equal(parseQuery(response, view), PARSE_DROP);
    const noQuestion = Buffer.from(encodeQuery("a.b").subarray(0, 12));
    noQuestion.writeUInt16BE(0, 4);
    assert.equal(parseQuery(noQuestion, view), PARSE_FORMERR);
    const truncated = encodeQuery("abc.example").subarray(0, 16);
    assert.equal(parseQuery(truncated, view), PARSE_FORMERR);
    const reply = errorReply(view, RCODE.FORMERR);
    assert.equal(reply.readUInt16BE(0), 4242);
    assert.equal(reply[3]! & 0xf, RCODE.FORMERR);
  });

  test("an opcode other than QUERY is NOTIMP before the counts; EDNS version 1 is BADVERS", () => {
    const view = new QueryView();
    const status = Buffer.from(encodeQuery("a.b").subarray(0, 12));
    status.writeUInt16BE(0, 4); // no question at all
    status[2] = (status[2]! & 0x87) | (2 << 3);
    assert.equal(parseQuery(status, view), PARSE_NOTIMP);
    const notimp = errorReply(view, RCODE.NOTIMP);
    assert.equal(notimp.length, 12);
    assert.equal((notimp[2]! >> 3) & 0xf, 2, "opcode echoed");
    assert.equal(notimp[3]! & 0x8f, RCODE.NOTIMP, "NOTIMP, no RA");
    const v1 = encodeQuery("a.b", "A", { edns: 1232, do: true });
    v1[v1.length - 5] = 1; // the OPT's version byte
    assert.equal(parseQuery(v1, view), PARSE_BADVERS);
    const badvers = errorReply(view, RCODE.BADVERS);
    assert.equal(badvers[3]! & 0x8f, 0, "header rcode: the low bits of 16; no RA");
    const opt = badvers.subarray(badvers.length - 11);
    assert.deepEqual([opt[5], opt[6]], [1, 0], "extended rcode 1 (16 >> 4), version 0");
  });

  test("random bytes never throw (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const view = new QueryView();
        const result = parseQuery(Buffer.from(bytes), view);
        if (result !== PARSE_DROP) errorReply(view, RCODE.FORMERR);
        scanReply(Buffer.from(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  test("mutated valid queries never throw (property)", () => {
    const base = encodeQuery("www.example.com", "A", { edns: 1232 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { maxLength: 8 }),
        fc.nat(base.length),
        (edits, cut) => {
          const buf = Buffer.from(base.subarray(0, Math.max(cut, 1)));
          for (const [at, value] of edits) if (at < buf.length) buf[at] = value;
          const view = new QueryView();
          if (parseQuery(buf, view) !== PARSE_DROP) errorReply(view, RCODE.SERVFAIL);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("names", () => {
  test("nameInZone compares at label boundaries, ignoring case", () => {
    const q = nameToWire("www.Cluster.Local");
    const upper = Buffer.from(q);
    upper[1] = 0x57; // "W"
    assert.equal(nameInZone(upper, 0, upper.length, nameToWire("cluster.local")), true);
    assert.equal(nameInZone(q, 0, q.length, nameToWire(".")), true);
    assert.equal(nameInZone(q, 0, q.length, nameToWire("ster.local")), false);
    assert.equal(nameInZone(q, 0, q.length, nameToWire("www.cluster.local")), true);
  });
});

describe("stored replies", () => {
  const reply = encodePacket({
    type: "response",
    id: 99,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
    questions: [{ name: "www.example.com", type: "A", class: "IN" }],
    answers: [
      { name: "www.example.com", type: "CNAME", ttl: 300, data: "web.example.com" },
      { name: "web.example.com", type: "A", ttl: 60, data: "192.0.2.7" },
    ],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, flags: 0, options: [] }],
  });

  test("scan finds TTLs and min TTL, and toStored strips OPT", () => {
    const scan = scanReply(reply)!;
    assert.equal(scan.ttlOffsets.length, 2);
    assert.equal(scan.minTtl, 60);
    assert.ok(scan.optOffset > 0);
    const stored = toStored(reply, scan)!;
    assert.equal(stored.wire.readUInt16BE(10), 0);
    assert.equal(stored.wire.length, reply.length - 11);
  });

  test("render patches ID, spelling, TTLs and adds OPT only for EDNS clients", () => {
    const stored = toStored(reply, scanReply(reply)!)!;
    const view = new QueryView();
    parseQuery(encodeQuery("WWW.example.COM", "A", { id: 1234, edns: 1232 }), view);
    const out = renderStored(stored, view, 10, true, 1232);
    const decoded = decodePacket(out);
    assert.equal(decoded.id, 1234);
    assert.equal(decoded.questions![0]!.name, "WWW.example.COM");
    assert.deepEqual(
      decoded.answers!.map((a) => a.ttl),
      [290, 50],
    );
    assert.equal(decoded.additionals!.length, 1);
    assert.equal(decoded.additionals![0]!.type, "OPT");
    const plain = new QueryView();
    parseQuery(encodeQuery("www.example.com", "A", { id: 5 }), plain);
    const out2 = decodePacket(renderStored(stored, plain, 100, false, 512));
    assert.equal(out2.additionals!.length, 0);
    assert.deepEqual(
      out2.answers!.map((a) => a.ttl),
      [200, 0],
    );
  });

  test("a reply whose first record does not fit keeps only header and question, TC=1", () => {
    const stored = toStored(reply, scanReply(reply)!)!;
    const view = new QueryView();
    parseQuery(encodeQuery("www.example.com"), view);
    const out = renderStored(stored, view, 0, true, 20);
    const decoded = decodePacket(out);
    assert.equal(decoded.flag_tc, true);
    assert.equal(decoded.answers!.length, 0);
    assert.equal(decoded.questions!.length, 1);
  });

  describe("fitToLimit (miekg/dns Msg.Truncate's rule, in place)", () => {
    const big = encodePacket({
      type: "response",
      id: 9,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
      questions: [{ name: "many.example.com", type: "A", class: "IN" }],
      answers: Array.from({ length: 10 }, (_, i) => ({
        name: "many.example.com",
        type: "A",
        ttl: 60,
        data: `192.0.2.${i + 1}`,
      })),
      authorities: [{ name: "example.com", type: "NS", ttl: 60, data: "ns1.example.com" }],
      additionals: [
        { name: "ns1.example.com", type: "A", ttl: 60, data: "192.0.2.53" },
        { type: "OPT", name: ".", udpPayloadSize: 1232, flags: 0, options: [] },
        { name: "ns1.example.com", type: "AAAA", ttl: 60, data: "2001:db8::53" },
      ],
    });
    const full = decodePacket(big);
    const recordLength = (r: unknown) =>
      (packet as unknown as { answer: { encodingLength(r: unknown): number } }).answer.encodingLength(r);

    test("unchanged when it fits", () => {
      const buf = Buffer.from(big);
      assert.equal(fitToLimit(buf, buf.length, buf.length), buf.length);
      assert.deepEqual(buf, big);
    });

    test("every limit: a prefix of whole records, OPT kept last, counts fixed, TC set", () => {
      for (let limit = 40; limit < big.length; limit++) {
        const buf = Buffer.alloc(big.length + 7, 0xee); // room after: the caller's scratch buffer
        big.copy(buf);
        const n = fitToLimit(buf, big.length, limit);
        assert.ok(n <= Math.max(limit, 12 + 22 + 11), `limit ${limit}: ${n}`);
        const out = decodePacket(buf.subarray(0, n));
        assert.equal(out.flag_tc, true);
        assert.equal(out.questions.length, 1);
        const kept = [...out.answers, ...out.authorities, ...out.additionals.filter((r) => r.type !== "OPT")];
        const all = [
          ...full.answers,
          ...full.authorities,
          ...full.additionals.filter((r) => r.type !== "OPT"),
        ];
        assert.deepEqual(kept, all.slice(0, kept.length), `limit ${limit}: a prefix, in order`);
        assert.equal(out.additionals.filter((r) => r.type === "OPT").length, 1, `limit ${limit}: OPT kept`);
        assert.equal(out.additionals.at(-1)!.type, "OPT");
        // As many as fit: the next record would not (dns-packet does not compress: lengths add up).
        const nextLength = kept.length < all.length ? recordLength(all[kept.length]!) : 0;
        if (kept.length < all.length) assert.ok(n + nextLength > limit, `limit ${limit}: room left for more`);
      }
    });
  });
});
