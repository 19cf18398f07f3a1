import assert from "node:assert/strict";
import { describe, test } from "node:test";
import dnsPacket from "dns-packet";
import { autopathCandidates, searchPath } from "../src/cluster/autopath.ts";
import { autopathReply, candidateAccepted } from "../src/cluster/index.ts";
import { buildQuery, nameToWire, parseQuery, QueryView } from "../src/dns/index.ts";
import { kubeConfig, ns, pod, query, records, svc, syncEmpty } from "./support/cluster-fixtures.ts";
import { decodePacket } from "./support/loose-packet.ts";

function world() {
  const r = records(kubeConfig(), { autopath: true, hostSearch: ["corp.example"] });
  syncEmpty(r);
  r.apply({ type: "upsert", kind: "namespace", object: ns("default") });
  r.apply({ type: "upsert", kind: "namespace", object: ns("other") });
  r.apply({ type: "upsert", kind: "service", object: svc("other", "web", { clusterIPs: ["10.0.0.10"] }) });
  r.apply({
    type: "replace",
    kind: "pod",
    objects: [pod("default", "client", ["10.1.0.50"]), pod("default", "pending", ["10.1.0.51"], "Pending")],
  });
  return r;
}

/** Run the search the way the server will: asked name first, then the candidates. */
async function resolveLikeServer(
  r: ReturnType<typeof world>,
  view: QueryView,
  client: string,
): Promise<Buffer | null> {
  const candidates = r.autopath(view, client);
  const first = await r.answer(view, client);
  if (candidates === null || first === null || candidateAccepted(first)) return first;
  for (const c of candidates) {
    const inner = new QueryView();
    parseQuery(buildQuery(1, c.wire, view.qtype), inner);
    const reply = await r.answer(inner, client);
    if (reply !== null && candidateAccepted(reply)) return autopathReply(view, reply);
  }
  return first;
}

describe("autopath @kubernetes", () => {
  test("search path and candidates follow the pod's namespace, then the node's domains, then the bare name", () => {
    const search = searchPath("default", "cluster.local.", ["corp.example"]);
    assert.deepEqual(search, [
      "default.svc.cluster.local.",
      "svc.cluster.local.",
      "cluster.local.",
      "corp.example.",
    ]);
    assert.deepEqual(
      autopathCandidates("example.com.default.svc.cluster.local.", search)!.map((c) => c.name),
      [
        "example.com.svc.cluster.local.",
        "example.com.cluster.local.",
        "example.com.corp.example.",
        "example.com.",
      ],
    );
    assert.deepEqual(
      autopathCandidates("example.com.default.svc.cluster.local.", search)![3]!.wire,
      nameToWire("example.com."),
    );
    assert.equal(autopathCandidates("default.svc.cluster.local.", search), null);
    assert.equal(autopathCandidates("web.other.svc.cluster.local.", search), null);
  });

  test("only running pods of this node get autopath", () => {
    const r = world();
    const view = query("web.other.default.svc.cluster.local", "A");
    assert.ok(r.autopath(view, "10.1.0.50"));
    assert.equal(r.autopath(view, "10.1.0.51"), null, "pending pod");
    assert.equal(r.autopath(view, "10.9.9.9"), null, "unknown client");
    assert.equal(records(kubeConfig()).autopath(view, "10.1.0.50"), null, "autopath not configured");
  });

  test("a cluster name found on the second try: CNAME from the asked name, then the answer", async () => {
    const r = world();
    const view = query("Web.Other.default.svc.cluster.local", "A", { id: 99, edns: true });
    const out = decodePacket((await resolveLikeServer(r, view, "10.1.0.50"))!);
    assert.equal(out.id, 99);
    assert.equal(out.rcode, "NOERROR");
    assert.equal(out.questions![0]!.name, "Web.Other.default.svc.cluster.local");
    assert.deepEqual(
      out.answers!.map((a) => `${a.name} ${a.type} ${a.data}`),
      [
        "Web.Other.default.svc.cluster.local CNAME web.other.svc.cluster.local",
        "web.other.svc.cluster.local A 10.0.0.10",
      ],
    );
    assert.equal(out.answers![0]!.ttl, 5);
    assert.equal(out.additionals!.filter((a) => a.type === "OPT").length, 1);
  });

  test("an outside name found by the forwarder (compressed reply): CNAME + its records, flags kept", () => {
    const view = query("example.com.default.svc.cluster.local", "A", { id: 5 });
    const found = dnsPacket.encode({
      type: "response",
      id: 1234,
      flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
      questions: [{ name: "example.com", type: "A", class: "IN" }],
      answers: [
        { name: "example.com", type: "CNAME", ttl: 60, class: "IN", data: "edge.example.net" },
        { name: "edge.example.net", type: "A", ttl: 30, class: "IN", data: "192.0.2.1" },
      ],
      authorities: [{ name: "example.net", type: "NS", ttl: 100, class: "IN", data: "ns1.example.net" }],
    });
    const out = decodePacket(autopathReply(view, found)!);
    assert.equal(out.id, 5);
    assert.equal(out.flag_ra, true);
    assert.equal(out.questions![0]!.name, "example.com.default.svc.cluster.local");
    assert.deepEqual(
      out.answers!.map((a) => `${a.name} ${a.type} ${a.ttl} ${a.data}`),
      [
        "example.com.default.svc.cluster.local CNAME 60 example.com",
        "example.com CNAME 60 edge.example.net",
        "edge.example.net A 30 192.0.2.1",
      ],
    );
    assert.deepEqual(
      out.authorities!.map((a) => `${a.name} ${a.type} ${a.data}`),
      ["example.net NS ns1.example.net"],
    );
  });

  test("NODATA found: no CNAME, the client's question; NXDOMAIN candidates are not accepted", () => {
    const view = query("example.com.default.svc.cluster.local", "AAAA");
    const nodata = dnsPacket.encode({
      type: "response",
      id: 1,
      questions: [{ name: "example.com", type: "AAAA", class: "IN" }],
    });
    const out = decodePacket(autopathReply(view, nodata)!);
    assert.equal(out.answers!.length, 0);
    assert.equal(out.questions![0]!.name, "example.com.default.svc.cluster.local");
    assert.equal(candidateAccepted(nodata), true);
    const nx = dnsPacket.encode({
      type: "response",
      id: 1,
      flags: 3,
      questions: [{ name: "x", type: "A", class: "IN" }],
    });
    assert.equal(candidateAccepted(nx), false);
  });
});
