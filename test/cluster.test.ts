import assert from "node:assert/strict";
import { describe, test } from "node:test";
import dnsPacket from "dns-packet";
import type { ClusterRecords } from "../src/cluster/index.ts";
import { slimEndpointSlice, slimPod, slimService } from "../src/kubeapi/index.ts";
import {
  ask,
  kubeConfig,
  ns,
  pod,
  query,
  rcodeOf,
  records,
  slice,
  svc,
  syncEmpty,
} from "./support/cluster-fixtures.ts";
import { endpointSliceJson, podJson, serviceJson } from "./support/kubeapi-server.ts";
import { decodePacket, type LoosePacket } from "./support/loose-packet.ts";

const HTTP = { name: "http", port: 80, protocol: "TCP" };

function world(overrides = {}, deps = {}): ClusterRecords {
  const r = records(kubeConfig(overrides), deps);
  syncEmpty(r);
  r.apply({ type: "upsert", kind: "namespace", object: ns("default") });
  r.apply({ type: "upsert", kind: "namespace", object: ns("other") });
  r.apply({
    type: "upsert",
    kind: "service",
    object: svc("default", "web", {
      clusterIPs: ["10.0.0.10", "fd00::10"],
      ports: [HTTP, { name: "", port: 81, protocol: "TCP" }],
    }),
  });
  r.apply({
    type: "upsert",
    kind: "service",
    object: svc("default", "hl", { headless: true, ports: [HTTP] }),
  });
  r.apply({
    type: "upsert",
    kind: "endpointslice",
    object: slice(
      "default",
      "hl",
      "hl-a",
      [
        { addresses: ["10.1.0.1"], hostname: "pet" },
        { addresses: ["10.1.0.2"], podName: "hl-pod-2" },
      ],
      [{ name: "http", port: 8080, protocol: "TCP" }],
    ),
  });
  r.apply({
    type: "upsert",
    kind: "endpointslice",
    object: slice(
      "default",
      "hl",
      "hl-b",
      [{ addresses: ["fd00::1:2"] }],
      [{ name: "http", port: 8080, protocol: "TCP" }],
      "IPv6",
    ),
  });
  r.apply({ type: "upsert", kind: "service", object: svc("default", "empty-hl", { headless: true }) });
  r.apply({
    type: "upsert",
    kind: "service",
    object: svc("default", "empty", { clusterIPs: ["10.0.0.20"] }),
  });
  r.apply({
    type: "upsert",
    kind: "service",
    object: svc("default", "ext", { type: "ExternalName", externalName: "www.example.com" }),
  });
  r.apply({
    type: "upsert",
    kind: "service",
    object: svc("other", "db", { clusterIPs: ["10.0.0.30"], ports: [HTTP] }),
  });
  return r;
}

const data = (p: LoosePacket | null, section: "answers" | "additionals" | "authorities" = "answers") =>
  (p?.[section] ?? [])
    .filter((a) => a.type !== "OPT")
    .map((a) => `${a.name} ${a.type} ${JSON.stringify((a as { data: unknown }).data)}`);

async function rcode(r: ClusterRecords, name: string, type: string): Promise<string> {
  const p = await ask(r, name, type);
  assert.ok(p, `${name} ${type} answered`);
  return `${rcodeOf(p)}/${p.answers?.length ?? 0}`;
}

describe("cluster records: every record form", () => {
  test("dns-version TXT", async () => {
    const p = await ask(world(), "dns-version.cluster.local", "TXT");
    assert.equal(rcodeOf(p!), "NOERROR");
    assert.equal(Buffer.from((p!.answers![0] as { data: Buffer[] }).data[0]!).toString(), "1.1.0");
  });

  test("ClusterIP A and AAAA (dual-stack), authoritative, TTL, ID, question and owner in the client's case, EDNS echoed", async () => {
    const r = world({ ttl: 7 });
    const view = query("WeB.DeFault.SVC.cluster.local", "A", { edns: true, id: 777 });
    const p = decodePacket((await r.answer(view, "10.9.9.9"))!);
    assert.equal(p.id, 777);
    assert.equal(p.flag_aa, true);
    assert.equal(p.flag_rd, true);
    assert.equal(p.questions![0]!.name, "WeB.DeFault.SVC.cluster.local");
    assert.deepEqual(data(p), ['WeB.DeFault.SVC.cluster.local A "10.0.0.10"']);
    assert.equal(p.answers![0]!.ttl, 7);
    assert.equal(p.additionals!.filter((a) => a.type === "OPT").length, 1);
    const noEdns = await ask(r, "web.default.svc.cluster.local", "AAAA");
    assert.deepEqual(data(noEdns), ['web.default.svc.cluster.local AAAA "fd00::10"']);
    assert.equal(noEdns!.additionals!.length, 0);
  });

  test("SRV for named ports: weight as CoreDNS (100 / address x port pairs), target the service, glue in Additional", async () => {
    const r = world();
    const p = await ask(r, "_http._tcp.web.default.svc.cluster.local", "SRV");
    assert.deepEqual(data(p), [
      '_http._tcp.web.default.svc.cluster.local SRV {"priority":0,"weight":50,"port":80,"target":"web.default.svc.cluster.local"}',
    ]);
    assert.deepEqual(data(p, "additionals"), [
      'web.default.svc.cluster.local A "10.0.0.10"',
      'web.default.svc.cluster.local AAAA "fd00::10"',
    ]);
    const single = await ask(r, "_http._tcp.db.other.svc.cluster.local", "SRV");
    assert.equal((single!.answers![0] as dnsPacket.SrvAnswer).data.weight, 100);
    // Unnamed ports have no SRV name; the service name itself lists every port (CoreDNS).
    assert.equal(await rcode(r, "_._tcp.web.default.svc.cluster.local", "SRV"), "NXDOMAIN/0");
    assert.equal((await ask(r, "web.default.svc.cluster.local", "SRV"))!.answers!.length, 2);
    // The "_tcp" label is an empty non-terminal: NODATA, not NXDOMAIN.
    assert.equal(await rcode(r, "_tcp.web.default.svc.cluster.local", "SRV"), "NOERROR/0");
    assert.equal(await rcode(r, "_http._udp.web.default.svc.cluster.local", "SRV"), "NXDOMAIN/0");
  });

  test("headless: A/AAAA per ready endpoint, endpoint names (hostname or dashed IP), SRV per endpoint x port", async () => {
    const r = world();
    assert.deepEqual(data(await ask(r, "hl.default.svc.cluster.local", "A")), [
      'hl.default.svc.cluster.local A "10.1.0.1"',
      'hl.default.svc.cluster.local A "10.1.0.2"',
    ]);
    assert.deepEqual(data(await ask(r, "hl.default.svc.cluster.local", "AAAA")), [
      'hl.default.svc.cluster.local AAAA "fd00::1:2"',
    ]);
    assert.deepEqual(data(await ask(r, "pet.hl.default.svc.cluster.local", "A")), [
      'pet.hl.default.svc.cluster.local A "10.1.0.1"',
    ]);
    assert.deepEqual(data(await ask(r, "10-1-0-2.hl.default.svc.cluster.local", "A")), [
      '10-1-0-2.hl.default.svc.cluster.local A "10.1.0.2"',
    ]);
    assert.deepEqual(data(await ask(r, "fd00--1-2.hl.default.svc.cluster.local", "AAAA")), [
      'fd00--1-2.hl.default.svc.cluster.local AAAA "fd00::1:2"',
    ]);
    const srv = await ask(r, "_http._tcp.hl.default.svc.cluster.local", "SRV");
    assert.deepEqual(
      srv!
        .answers!.map(
          (a) => `${(a as dnsPacket.SrvAnswer).data.target} ${(a as dnsPacket.SrvAnswer).data.weight}`,
        )
        .sort(),
      [
        "10-1-0-2.hl.default.svc.cluster.local 33",
        "fd00--1-2.hl.default.svc.cluster.local 33",
        "pet.hl.default.svc.cluster.local 33",
      ],
    );
    assert.equal(srv!.additionals!.length, 3);
    assert.equal(await rcode(r, "nobody.hl.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "pet.hl.default.svc.cluster.local", "AAAA"), "NOERROR/0");
  });

  test("endpoint_pod_names names endpoints after their pods", async () => {
    const r = world({ endpointPodNames: true });
    assert.deepEqual(data(await ask(r, "hl-pod-2.hl.default.svc.cluster.local", "A")), [
      'hl-pod-2.hl.default.svc.cluster.local A "10.1.0.2"',
    ]);
    assert.equal(await rcode(r, "pet.hl.default.svc.cluster.local", "A"), "NOERROR/1"); // hostname still wins
  });

  test("no ready endpoints: headless is NXDOMAIN; ClusterIP too with ignore empty_service", async () => {
    assert.equal(await rcode(world(), "empty-hl.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(world(), "empty.default.svc.cluster.local", "A"), "NOERROR/1");
    assert.equal(
      await rcode(world({ ignoreEmptyService: true }), "empty.default.svc.cluster.local", "A"),
      "NXDOMAIN/0",
    );
    assert.equal(
      await rcode(world({ ignoreEmptyService: true }), "hl.default.svc.cluster.local", "A"),
      "NOERROR/2",
    );
  });

  test("not-ready endpoints never reach the index (conditions.ready false), unset counts as ready", () => {
    const s = slimEndpointSlice(
      endpointSliceJson("default", "x", "hl", [
        { ip: "10.0.0.1", ready: false },
        { ip: "10.0.0.2" },
        { ip: "10.0.0.3", ready: true, pod: "p3" },
      ]),
    );
    assert.deepEqual(
      s.endpoints.map((e) => e.addresses[0]),
      ["10.0.0.2", "10.0.0.3"],
    );
    assert.equal(s.endpoints[1]!.podName, "p3");
    assert.equal(s.service, "hl");
    const v = slimService(serviceJson("default", "hl", { clusterIP: "None" }));
    assert.equal(v.headless, true);
    assert.deepEqual(v.clusterIPs, []);
    assert.deepEqual(slimPod(podJson("a", "b", ["10.0.0.1", "fd00::1"], "n1")).ips, ["10.0.0.1", "fd00::1"]);
  });

  test("ExternalName: CNAME, and for A/AAAA the target resolved through the daemon and appended", async () => {
    const asked: string[] = [];
    const r = world(
      {},
      {
        resolve: async (wire: Buffer, qtype: number) => {
          asked.push(`${wire.toString("latin1")}/${qtype}`);
          return dnsPacket.encode({
            type: "response",
            id: 1,
            flags: dnsPacket.RECURSION_AVAILABLE,
            questions: [{ name: "www.example.com", type: "A", class: "IN" }],
            answers: [{ name: "www.example.com", type: "A", ttl: 300, class: "IN", data: "192.0.2.53" }],
          });
        },
      },
    );
    const p = await ask(r, "Ext.default.svc.cluster.local", "A");
    assert.deepEqual(data(p), [
      'Ext.default.svc.cluster.local CNAME "www.example.com"',
      'www.example.com A "192.0.2.53"',
    ]);
    assert.equal(asked.length, 1);
    assert.deepEqual(data(await ask(r, "ext.default.svc.cluster.local", "CNAME")), [
      'ext.default.svc.cluster.local CNAME "www.example.com"',
    ]);
    // Resolution failing still gives the CNAME for the client to chase.
    const failing = world({}, { resolve: async () => null });
    assert.deepEqual(data(await ask(failing, "ext.default.svc.cluster.local", "AAAA")), [
      'ext.default.svc.cluster.local CNAME "www.example.com"',
    ]);
  });

  test("PTR for ClusterIPs (IPv4 and IPv6) and endpoint IPs, only within the listed reverse zones", async () => {
    const r = world();
    assert.deepEqual(data(await ask(r, "10.0.0.10.in-addr.arpa", "PTR")), [
      '10.0.0.10.in-addr.arpa PTR "web.default.svc.cluster.local"',
    ]);
    const v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
    assert.deepEqual(data(await ask(r, v6, "PTR")), [`${v6} PTR "web.default.svc.cluster.local"`]);
    assert.deepEqual(data(await ask(r, "1.0.1.10.in-addr.arpa", "PTR")), [
      '1.0.1.10.in-addr.arpa PTR "pet.hl.default.svc.cluster.local"',
    ]);
    assert.equal(await rcode(r, "99.0.0.10.in-addr.arpa", "PTR"), "NXDOMAIN/0");
    const noReverse = world({ zones: ["cluster.local."] });
    assert.equal(await noReverse.answer(query("10.0.0.10.in-addr.arpa", "PTR"), "10.1.1.1"), null);
    const narrow = world({ zones: ["cluster.local.", "1.10.in-addr.arpa."] });
    assert.equal(await narrow.answer(query("10.0.0.10.in-addr.arpa", "PTR"), "10.1.1.1"), null);
    assert.equal(await rcode(narrow, "1.0.1.10.in-addr.arpa", "PTR"), "NOERROR/1");
  });

  test("pods: insecure answers any IP in an existing namespace; verified only this node's pods, else down the chain", async () => {
    const insecure = world({ pods: "insecure" });
    assert.deepEqual(data(await ask(insecure, "10-2-3-4.default.pod.cluster.local", "A")), [
      '10-2-3-4.default.pod.cluster.local A "10.2.3.4"',
    ]);
    assert.deepEqual(data(await ask(insecure, "fd00--5.default.pod.cluster.local", "AAAA")), [
      'fd00--5.default.pod.cluster.local AAAA "fd00::5"',
    ]);
    assert.equal(await rcode(insecure, "10-2-3-4.default.pod.cluster.local", "AAAA"), "NOERROR/0");
    assert.equal(await rcode(insecure, "10-2-3-4.nope.pod.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(insecure, "not-an-ip.default.pod.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(world(), "10-2-3-4.default.pod.cluster.local", "A"), "NXDOMAIN/0"); // disabled
    const verified = world({ pods: "verified" });
    verified.apply({ type: "replace", kind: "pod", objects: [pod("default", "p", ["10.2.3.4"])] });
    assert.equal(await rcode(verified, "10-2-3-4.default.pod.cluster.local", "A"), "NOERROR/1");
    assert.equal(await verified.answer(query("10-2-3-5.default.pod.cluster.local", "A"), "1.1.1.1"), null);
    assert.equal(await verified.answer(query("10-2-3-4.other.pod.cluster.local", "A"), "1.1.1.1"), null);
  });

  test("SOA at the apex; NODATA and NXDOMAIN exactly as listed, both with the zone SOA", async () => {
    const r = world();
    const soa = await ask(r, "Cluster.Local", "SOA");
    assert.equal(soa!.answers![0]!.type, "SOA");
    const soaData = (soa!.answers![0] as dnsPacket.SoaAnswer).data;
    assert.equal(soaData.mname, "ns.dns.Cluster.Local");
    assert.equal(soaData.rname, "hostmaster.Cluster.Local");
    assert.deepEqual(
      [soaData.refresh, soaData.retry, soaData.expire, soaData.minimum],
      [7200, 1800, 86400, 5],
    );
    const nodata = [
      ["cluster.local", "A"],
      ["svc.cluster.local", "A"],
      ["pod.cluster.local", "A"],
      ["default.svc.cluster.local", "A"],
      ["web.default.svc.cluster.local", "TXT"],
      ["web.default.svc.cluster.local", "MX"],
      ["_http._tcp.web.default.svc.cluster.local", "A"],
    ];
    for (const [name, type] of nodata) {
      const p = await ask(r, name!, type!);
      assert.equal(`${name} ${rcodeOf(p!)}/${p!.answers!.length}`, `${name} NOERROR/0`);
      assert.equal(p!.authorities![0]!.type, "SOA", `${name} has SOA`);
      assert.equal(p!.authorities![0]!.name, "cluster.local");
    }
    const nxdomain = [
      "nope.default.svc.cluster.local",
      "web.nons.svc.cluster.local",
      "nons.svc.cluster.local",
      "foo.cluster.local",
      "a.b.c.d.web.default.svc.cluster.local",
      "x.web.default.pod.cluster.local",
    ];
    for (const name of nxdomain) {
      const p = await ask(r, name, "A");
      assert.equal(`${name} ${rcodeOf(p!)}`, `${name} NXDOMAIN`);
      assert.equal(p!.authorities![0]!.type, "SOA");
      assert.equal(p!.flag_aa, true);
    }
  });

  test("namespaces limits what is served", async () => {
    const r = world({ namespaces: ["other"] });
    assert.equal(await rcode(r, "web.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "db.other.svc.cluster.local", "A"), "NOERROR/1");
  });

  test("noendpoints: headless gives nothing, ClusterIP still answers", async () => {
    const r = world({ noEndpoints: true });
    assert.equal(await rcode(r, "hl.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "web.default.svc.cluster.local", "A"), "NOERROR/1");
    assert.deepEqual(r.kinds.sort(), ["namespace", "service"]);
  });

  test("fallthrough: NXDOMAIN goes down the chain (all zones, or only the listed ones)", async () => {
    const all = world({ fallthrough: [] });
    assert.equal(await all.answer(query("nope.default.svc.cluster.local", "A"), "1.1.1.1"), null);
    assert.equal(await rcode(all, "default.svc.cluster.local", "A"), "NOERROR/0"); // NODATA is not fallen through
    const reverseOnly = world({ fallthrough: ["in-addr.arpa.", "ip6.arpa."] });
    assert.equal(await reverseOnly.answer(query("99.0.0.10.in-addr.arpa", "PTR"), "1.1.1.1"), null);
    assert.equal(await rcode(reverseOnly, "nope.default.svc.cluster.local", "A"), "NXDOMAIN/0");
  });

  test("not synced, other zones and other classes go down the chain", async () => {
    const r = records(kubeConfig());
    r.apply({ type: "upsert", kind: "namespace", object: ns("default") });
    assert.equal(r.synced, false);
    assert.equal(await r.answer(query("default.svc.cluster.local", "A"), "1.1.1.1"), null);
    r.apply({ type: "replace", kind: "service", objects: [] });
    r.apply({ type: "replace", kind: "namespace", objects: [ns("default")] });
    assert.equal(r.synced, false, "endpointslices not listed yet");
    r.apply({ type: "replace", kind: "endpointslice", objects: [] });
    assert.equal(r.synced, true);
    assert.equal(await r.answer(query("example.com", "A"), "1.1.1.1"), null);
    const chaos = query("default.svc.cluster.local", "A");
    chaos.qclass = 3;
    assert.equal(await r.answer(chaos, "1.1.1.1"), null);
  });
});

describe("cluster records: changes", () => {
  test("a new service is announced and answers at once; a deleted one is NXDOMAIN at once", async () => {
    const r = world();
    const seen: string[][] = [];
    r.onChange((names) => seen.push(names));
    assert.equal(await rcode(r, "new.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    const serialBefore = r.stats().serial;
    const created = svc("default", "new", { clusterIPs: ["10.0.0.77"] });
    r.apply({ type: "upsert", kind: "service", object: created });
    assert.ok(seen.at(-1)!.includes("new.default.svc.cluster.local."));
    assert.ok(seen.at(-1)!.includes("77.0.0.10.in-addr.arpa."));
    assert.ok(r.stats().serial > serialBefore);
    assert.equal(await rcode(r, "new.default.svc.cluster.local", "A"), "NOERROR/1");
    r.apply({ type: "delete", kind: "service", object: created });
    assert.ok(seen.at(-1)!.includes("new.default.svc.cluster.local."));
    assert.equal(await rcode(r, "new.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "77.0.0.10.in-addr.arpa", "PTR"), "NXDOMAIN/0");
  });

  test("updated endpoints rebuild the memoised answers", async () => {
    const r = world();
    assert.equal(await rcode(r, "hl.default.svc.cluster.local", "A"), "NOERROR/2"); // memoised now
    r.apply({
      type: "upsert",
      kind: "endpointslice",
      object: slice("default", "hl", "hl-a", [{ addresses: ["10.1.0.9"] }]),
    });
    assert.deepEqual(data(await ask(r, "hl.default.svc.cluster.local", "A")), [
      'hl.default.svc.cluster.local A "10.1.0.9"',
    ]);
    r.apply({ type: "delete", kind: "endpointslice", object: slice("default", "hl", "hl-a", []) });
    r.apply({ type: "delete", kind: "endpointslice", object: slice("default", "hl", "hl-b", []) });
    assert.equal(await rcode(r, "hl.default.svc.cluster.local", "A"), "NXDOMAIN/0");
  });

  test("namespaces appearing and disappearing are announced and change answers", async () => {
    const r = world();
    const seen: string[] = [];
    r.onChange((names) => seen.push(...names));
    r.apply({ type: "upsert", kind: "service", object: svc("later", "api", { clusterIPs: ["10.0.0.88"] }) });
    assert.equal(await rcode(r, "api.later.svc.cluster.local", "A"), "NXDOMAIN/0"); // namespace unknown yet
    r.apply({ type: "upsert", kind: "namespace", object: ns("later") });
    assert.ok(seen.includes("later.svc.cluster.local."));
    assert.equal(await rcode(r, "api.later.svc.cluster.local", "A"), "NOERROR/1");
    r.apply({ type: "delete", kind: "namespace", object: ns("later") });
    assert.equal(await rcode(r, "api.later.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "later.svc.cluster.local", "A"), "NXDOMAIN/0");
  });

  test("replace applies the difference: objects no longer listed are gone", async () => {
    const r = world();
    const seen: string[] = [];
    r.onChange((names) => seen.push(...names));
    r.apply({
      type: "replace",
      kind: "service",
      objects: [svc("default", "web", { clusterIPs: ["10.0.0.10"] })],
    });
    assert.equal(await rcode(r, "hl.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "db.other.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "web.default.svc.cluster.local", "AAAA"), "NOERROR/0");
    assert.ok(seen.includes("db.other.svc.cluster.local."));
    assert.equal(r.stats().services, 1);
  });
  test("a list streamed as upserts then prune: unlisted objects are gone, the first one marks the kind synced", async () => {
    const r = records(kubeConfig());
    r.apply({ type: "upsert", kind: "namespace", object: ns("default") });
    r.apply({ type: "prune", kind: "namespace", keep: new Set(["default"]) });
    r.apply({ type: "upsert", kind: "service", object: svc("default", "a", { clusterIPs: ["10.0.0.1"] }) });
    r.apply({ type: "upsert", kind: "service", object: svc("default", "b", { clusterIPs: ["10.0.0.2"] }) });
    r.apply({ type: "prune", kind: "service", keep: new Set(["default/a", "default/b"]) });
    assert.equal(r.synced, false, "endpointslices not listed yet");
    r.apply({ type: "prune", kind: "endpointslice", keep: new Set() });
    assert.equal(r.synced, true);
    assert.equal(await rcode(r, "b.default.svc.cluster.local", "A"), "NOERROR/1");
    // a relist that no longer has b
    r.apply({ type: "upsert", kind: "service", object: svc("default", "a", { clusterIPs: ["10.0.0.1"] }) });
    r.apply({ type: "prune", kind: "service", keep: new Set(["default/a"]) });
    assert.equal(await rcode(r, "b.default.svc.cluster.local", "A"), "NXDOMAIN/0");
    assert.equal(await rcode(r, "a.default.svc.cluster.local", "A"), "NOERROR/1");
    assert.equal(r.stats().services, 1);
  });
});
