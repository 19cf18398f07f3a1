// `template`: the Go-template subset and RR reader, then the README examples against the real daemon
// (dig as client, unbound upstream), and its metrics.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseCorefile } from "../src/config/index.ts";
import { GoTemplate } from "../src/plugins/template/index.ts";
import { parseRr } from "../src/plugins/template/rr.ts";
import {
  cleanupAll,
  dig,
  freePort,
  soaRecord,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";
import { localized, readmeExample } from "./support/readme-examples.ts";

after(cleanupAll);

describe("Go template subset", () => {
  const data = {
    Name: "ip-10-1-2-3.example.",
    Match: ["ip-10-1-2-3.example.", "10", "1"],
    Group: { a: "10", b: "0b", "1": "10" },
  };
  test("fields, index, parseInt, printf, pipes and trimming", () => {
    assert.equal(
      new GoTemplate("{{ .Name }} 60 IN A {{ .Group.a }}").execute(data),
      "ip-10-1-2-3.example. 60 IN A 10",
    );
    assert.equal(new GoTemplate("{{ index .Match 1 }}.{{ index .Group `1` }}").execute(data), "10.10");
    assert.equal(new GoTemplate("{{ parseInt .Group.b 16 8 }}").execute(data), "11");
    assert.equal(new GoTemplate('{{ printf "%03d-%s" 7 .Group.a }}').execute(data), "007-10");
    assert.equal(new GoTemplate("{{ .Group.a | printf `x%s` | upper }}").execute(data), "X10");
    assert.equal(new GoTemplate("a  {{- .Group.a -}}  b{{/* note */}}").execute(data), "a10b");
    assert.equal(new GoTemplate("{{ .Group.missing }}").execute(data), "<no value>");
  });
  test("errors: at compile time for unsupported syntax, at run time for bad input", () => {
    assert.throws(() => new GoTemplate("{{ if .Name }}x{{ end }}"), /not supported/);
    assert.throws(() => new GoTemplate("{{ nosuch .Name }}"), /not defined/);
    assert.throws(() => new GoTemplate("{{ .Name "), /unclosed action/);
    assert.throws(() => new GoTemplate("{{ index .Match 9 }}").execute(data), /index out of range/);
    assert.throws(() => new GoTemplate("{{ parseInt .Name 10 8 }}").execute(data), /invalid syntax/);
  });
});

describe("RR reader", () => {
  test("zone-file records as miekg/dns reads them", () => {
    assert.deepEqual(parseRr("a.example. 60 IN A 192.0.2.1"), {
      name: "a.example.",
      ttl: 60,
      class: "IN",
      type: "A",
      data: "192.0.2.1",
    });
    assert.deepEqual(parseRr("a.example IN 30 MX 10 mail.example"), {
      name: "a.example.",
      ttl: 30,
      class: "IN",
      type: "MX",
      data: { preference: 10, exchange: "mail.example" },
    });
    const soa = parseRr("invalid. 60 IN SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)");
    assert.equal(typeof soa, "object");
    assert.deepEqual((soa as { data: unknown }).data, {
      mname: "ns.invalid",
      rname: "hostmaster.invalid",
      serial: 1,
      refresh: 60,
      retry: 60,
      expire: 60,
      minimum: 60,
    });
    assert.deepEqual((parseRr('t.example. TXT "two words" one') as { data: unknown }).data, [
      "two words",
      "one",
    ]);
    assert.equal((parseRr("t.example. A 192.0.2.1") as { ttl: number }).ttl, 3600);
    assert.match(parseRr("x. 60 IN A 300.1.1.1") as string, /bad A address/);
    assert.match(parseRr("x. 60 IN LOC 1 2 3") as string, /not supported/);
  });
});

describe("template configuration", () => {
  const parse = (body: string) => parseCorefile(`.:1053 {\n${body}\n}\n`, { file: "Corefile" });
  test("bad templates, regexps, classes and options stop start-up with their line", () => {
    assert.throws(
      () => parse('template IN A {\n  answer "{{ if .Name }}"\n}'),
      /Corefile:3: template: could not compile/,
    );
    assert.throws(
      () => parse("template IN A {\n  match (unclosed\n}"),
      /Corefile:3: template: could not parse regex/,
    );
    assert.throws(() => parse("template XX A"), /Corefile:2: template: invalid query class "XX"/);
    assert.throws(() => parse("template IN A {\n  var x 1\n}"), /not supported/);
    assert.throws(() => parse("template IN A {\n  rcode NOPE\n}"), /unknown rcode "NOPE"/);
    const config = parse(
      'template IN A example.test {\n  answer "{{ .Name }} A 192.0.2.1"\n}\ntemplate ANY ANY',
    );
    assert.equal(config.blocks[0]!.plugins.template?.length, 2);
  });
});

describe("template (README examples)", () => {
  let upstream: Upstream;
  let search: { host: string; port: number };
  let ips: { host: string; port: number };
  let metricsUrl: string;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("cluster.local", { ttl: 300, minimum: 30 }),
        "web.default.svc.cluster.local. 30 IN A 10.0.0.5",
        soaRecord("example.test", { ttl: 300, minimum: 30 }),
        "www.example.test. 300 IN A 192.0.2.80",
      ],
    });
    const host = uniqueLoopback();
    search = { host, port: await freePort(host) };
    ips = { host, port: await freePort(host) };
    metricsUrl = `http://${host}:${await freePort(host)}/metrics`;
    const first = localized(readmeExample("`template", 0), { ...search, upstream }).replace(
      "    forward",
      `    prometheus ${new URL(metricsUrl).host}\n    forward`,
    );
    const root = `.:${search.port} {
    bind ${host}
    template IN A alias.test {
        answer "{{ .Name }} 60 IN CNAME www.example.test."
    }
    forward . ${upstream.host}:${upstream.port}
}
`;
    await startDaemon({
      corefile: `${first}\n${localized(readmeExample("`template", 1), { ...ips, upstream })}\n${root}`,
      readyProbe: search,
    });
  });

  test("search-path junk under cluster.local is NXDOMAIN at once, with the SOA; real names pass", async () => {
    await upstream.clearQueryLog();
    const junk = await dig(search, "www.example.com.default.svc.cluster.local", "A");
    assert.equal(junk.rcode, "NXDOMAIN", junk.raw);
    assert.ok(junk.flags.includes("aa"));
    assert.equal(junk.authority[0]?.type, "SOA");
    assert.equal(junk.authority[0]?.name, "cluster.local.");
    const aaaa = await dig(search, "api.github.io.svc.cluster.local", "AAAA");
    assert.equal(aaaa.rcode, "NXDOMAIN");
    assert.equal((await upstream.queryLog()).length, 0, "nothing asked upstream");
    const web = await dig(search, "web.default.svc.cluster.local", "A");
    assert.equal(web.answer[0]?.data, "10.0.0.5");
  });

  test("A from the name's groups; PTR back; MX with parseInt glue; other MX names SERVFAIL", async () => {
    const a = await dig(ips, "ip-10-1-2-3.example.test", "A");
    assert.deepEqual(
      a.answer.map((r) => [r.name, r.ttl, r.type, r.data]),
      [["ip-10-1-2-3.example.test.", 60, "A", "10.1.2.3"]],
    );
    assert.ok(a.flags.includes("aa"));
    const ptr = await dig(ips, "3.2.1.10.in-addr.arpa", "PTR");
    assert.equal(ptr.answer[0]?.data, "ip-10-1-2-3.example.test.");
    const mx = await dig(ips, "hex-0a0b.example.test", "MX");
    assert.equal(mx.answer[0]?.data, "10 hex-0a0b.example.test.");
    assert.deepEqual(
      mx.additional.map((r) => [r.name, r.data]),
      [["hex-0a0b.example.test.", "10.0.10.11"]],
    );
    assert.equal((await dig(ips, "www.example.test", "MX")).rcode, "SERVFAIL");
    // No regex matches, fallthrough: the A template lets other names go to the upstream.
    assert.equal((await dig(ips, "www.example.test", "A")).answer[0]?.data, "192.0.2.80");
  });

  test("a CNAME answer to an A question gets its target's records, resolved through the daemon", async () => {
    const r = await dig(search, "alias.test", "A");
    assert.deepEqual(
      r.answer.map((a) => [a.name, a.type, a.data]),
      [
        ["alias.test.", "CNAME", "www.example.test."],
        ["www.example.test.", "A", "192.0.2.80"],
      ],
    );
  });

  test("coredns_template_matches_total counts matches by zone, class and type", async () => {
    await dig(search, "x.example.org.svc.cluster.local", "A");
    const text = await (await fetch(metricsUrl)).text();
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("coredns_template_matches_total{") &&
          l.includes('zone="cluster.local."') &&
          l.includes('type="A"'),
      );
    assert.ok(
      line,
      text
        .split("\n")
        .filter((l) => l.includes("template"))
        .join("\n"),
    );
    assert.match(line, /class="IN"/);
    assert.ok(Number(line.split(" ").pop()) >= 2);
  });
});
