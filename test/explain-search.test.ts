// glibc's search-list walk as explain models it (resolv/res_query.c __res_context_search).

import assert from "node:assert/strict";
import { test } from "node:test";
import { endsSearch, exhaustedRcode, searchOrder } from "../src/explain/search.ts";

const POD = ["default.svc.cluster.local.", "svc.cluster.local.", "cluster.local.", "corp.example."];

test("fewer dots than ndots: the search list first, the name as given last", () => {
  assert.deepEqual(searchOrder("web", POD, 5), [
    "web.default.svc.cluster.local.",
    "web.svc.cluster.local.",
    "web.cluster.local.",
    "web.corp.example.",
    "web.",
  ]);
});

test("at least ndots dots: the name as given first; a trailing dot: the name alone", () => {
  assert.deepEqual(searchOrder("a.b.c.d.e.Example.com", POD.slice(0, 1), 5), [
    "a.b.c.d.e.example.com.",
    "a.b.c.d.e.example.com.default.svc.cluster.local.",
  ]);
  assert.deepEqual(searchOrder("www.example.com.", POD, 5), ["www.example.com."]);
  assert.deepEqual(searchOrder("host", [], 1), ["host."]);
});

test("an answer or a hard error ends the walk; NXDOMAIN, NODATA and SERVFAIL go on", () => {
  assert.equal(endsSearch("NOERROR", 1), true);
  assert.equal(endsSearch("NOERROR", 0), false, "NODATA");
  assert.equal(endsSearch("NXDOMAIN", 0), false);
  assert.equal(endsSearch("SERVFAIL", 0), false);
  assert.equal(endsSearch("REFUSED", 0), true);
  assert.equal(exhaustedRcode(["NXDOMAIN", "NOERROR", "NXDOMAIN"]), "NOERROR", "NODATA somewhere wins");
  assert.equal(exhaustedRcode(["NXDOMAIN", "SERVFAIL", "NXDOMAIN"]), "SERVFAIL");
  assert.equal(exhaustedRcode(["NXDOMAIN", "NXDOMAIN"]), "NXDOMAIN");
});
