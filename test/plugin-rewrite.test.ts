// `rewrite`: the README example run against the real daemon and a real unbound, checked with dig.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  type Daemon,
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

describe("rewrite (README example)", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let server: { host: string; port: number };

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 30 }),
        "web.example.test. 300 IN A 192.0.2.10",
        "www.example.test. 300 IN CNAME web.example.test.",
        "ftp.east.example.test. 300 IN A 192.0.2.20",
        'ch.example.test. 300 IN TXT "in class"',
      ],
    });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    daemon = await startDaemon({
      corefile: localized(readmeExample("`rewrite"), { ...server, upstream }),
      readyProbe: server,
    });
  });

  test("exact: asked as web.example.test, answered under the asked name and question", async () => {
    await upstream.clearQueryLog();
    const r = await dig(server, "Old.Example.Test", "A");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.equal(r.question?.name, "Old.Example.Test.");
    assert.deepEqual(
      r.answer.map((a) => [a.name.toLowerCase(), a.type, a.data]),
      [["old.example.test.", "A", "192.0.2.10"]],
    );
    assert.equal(await upstream.queryCount("web.example.test.", "A"), 1);
    assert.equal(await upstream.queryCount("old.example.test.", "A"), 0);
  });

  test("suffix with answer auto: owner names and CNAME targets mapped back to the asked suffix", async () => {
    const r = await dig(server, "www.legacy.test", "A");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.equal(r.question?.name, "www.legacy.test.");
    assert.deepEqual(
      r.answer.map((a) => [a.name, a.type, a.data]),
      [["www.legacy.test.", "CNAME", "web.legacy.test."]],
    );
    // The second ask is a cache hit on the rewritten name, restored the same way.
    const again = await dig(server, "www.legacy.test", "A");
    assert.deepEqual(
      again.answer.map((a) => a.name),
      ["www.legacy.test."],
    );
    assert.equal(await upstream.queryCount("www.example.test.", "A"), 1);
  });

  test("regex with answer name: groups into the new name, and back", async () => {
    const r = await dig(server, "ftp-east.regex.test", "A");
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.deepEqual(
      r.answer.map((a) => [a.name, a.data]),
      [["ftp-east.regex.test.", "192.0.2.20"]],
    );
    assert.equal(await upstream.queryCount("ftp.east.example.test.", "A"), 1);
  });

  test("class CH asked as IN; the client's class comes back in the question", async () => {
    const r = await dig(server, "ch.example.test", "TXT", { extraArgs: ["-c", "CH"] });
    assert.equal(r.rcode, "NOERROR", r.raw);
    assert.equal(r.question?.class, "CH");
    assert.equal(r.answer[0]?.data, '"in class"');
  });

  test("names no rule matches pass untouched; the process is alive", async () => {
    const r = await dig(server, "web.example.test", "A");
    assert.equal(r.answer[0]?.name, "web.example.test.");
    assert.ok(daemon.isRunning());
  });
});

describe("rewrite rule semantics", () => {
  let upstream: Upstream;
  let server: { host: string; port: number };

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 30 }),
        "one.example.test. 300 IN A 192.0.2.1",
        "two.example.test. 300 IN A 192.0.2.2",
        "alias.example.test. 300 IN CNAME target.svc.internal.test.",
        "target.svc.internal.test. 300 IN A 192.0.2.3",
        "_http._tcp.example.test. 300 IN SRV 0 100 80 host.svc.internal.test.",
        "a.pre.example.test. 300 IN A 192.0.2.4",
        "x.sub.example.test. 300 IN A 192.0.2.5",
      ],
    });
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    await startDaemon({
      corefile: `.:${server.port} {
    bind ${host}
    rewrite stop name exact first.test one.example.test
    rewrite name exact first.test two.example.test
    rewrite continue type AAAA A
    rewrite name exact second.test two.example.test
    rewrite name prefix pre. a.pre. answer auto
    rewrite name regex ^(.*)\\.long\\.test\\.$ {1}{1}{1}{1}{1}{1}{1}{1}.example.test
    rewrite name substring example.test example.test answer value (.*)\\.svc\\.internal\\.test\\. {1}.example.test.
    forward . ${upstream.host}:${upstream.port}
}
`,
      readyProbe: server,
    });
  });

  test("a matching stop rule ends the list; continue goes on", async () => {
    const first = await dig(server, "first.test", "A");
    assert.equal(first.answer[0]?.data, "192.0.2.1", first.raw);
    // `continue type AAAA A` then `exact second.test`: an AAAA question answered with A records.
    const second = await dig(server, "second.test", "AAAA");
    assert.equal(second.question?.type, "AAAA");
    assert.deepEqual(
      second.answer.map((a) => [a.name, a.type, a.data]),
      [["second.test.", "A", "192.0.2.2"]],
    );
  });

  test("answer value rewrites CNAME and SRV targets", async () => {
    const cname = await dig(server, "alias.example.test", "A");
    assert.deepEqual(
      cname.answer.map((a) => [a.type, a.name, a.data]),
      [["CNAME", "alias.example.test.", "target.example.test."]],
    );
    const srv = await dig(server, "_http._tcp.example.test", "SRV");
    assert.equal(srv.answer[0]?.data, "0 100 80 host.example.test.");
  });

  test("prefix with answer auto", async () => {
    const r = await dig(server, "pre.example.test", "A");
    assert.deepEqual(
      r.answer.map((a) => [a.name, a.data]),
      [["pre.example.test.", "192.0.2.4"]],
    );
  });

  test("a rewritten name that is not a domain name gets SERVFAIL", async () => {
    const label = "x".repeat(40);
    const r = await dig(server, `${label}.long.test`, "A");
    assert.equal(r.rcode, "SERVFAIL");
  });
});
