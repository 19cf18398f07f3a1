// `hosts`: the README example against the real daemon (dig as client, unbound upstream), reload of
// the file, wildcards, NODATA, SERVFAIL without fallthrough, and its metrics.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addressOfReverse } from "../src/plugins/hosts/handler.ts";
import { canonicalAddress, HostsMap } from "../src/plugins/hosts/map.ts";
import {
  cleanupAll,
  dig,
  freePort,
  soaRecord,
  startDaemon,
  startUnbound,
  tempDir,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";
import { localized, readmeExample } from "./support/readme-examples.ts";

after(cleanupAll);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("hosts table", () => {
  test("lines, comments, zones, wildcards and PTR data as CoreDNS parses them", () => {
    const map = HostsMap.parse(
      "# comment\n10.0.0.1 a.example A2.example. # trailing\n::ffff:10.0.0.9 mapped.example\nfe80::1%eth0 v6.example\nbad line\n10.0.0.3 *.w.example\n10.0.0.4 other.test\n",
      (n) => n.endsWith(".example."),
      true,
    );
    assert.deepEqual(map.lookup("a2.example.", true), ["10.0.0.1"]);
    assert.deepEqual(map.lookup("mapped.example.", true), ["10.0.0.9"], "IPv4-mapped is IPv4");
    assert.deepEqual(map.lookup("v6.example.", false), ["fe80::1"]);
    assert.deepEqual(map.lookup("x.w.example.", true), ["10.0.0.3"]);
    assert.deepEqual(map.lookup("y.x.w.example.", true), [], "one label only");
    assert.deepEqual(map.lookup("w.example.", true), [], "not the apex");
    assert.deepEqual(map.lookup("other.test.", true), [], "outside the zones");
    assert.deepEqual(map.addr.get("10.0.0.1"), ["a.example.", "a2.example."]);
    assert.equal(map.addr.get("10.0.0.3"), undefined, "no PTR for wildcards");
    assert.equal(canonicalAddress("2001:DB8:0:0::1"), "2001:db8::1");
    assert.equal(addressOfReverse("1.0.0.10.in-addr.arpa."), "10.0.0.1");
    assert.equal(
      addressOfReverse("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
      "2001:db8::1",
    );
    assert.equal(addressOfReverse("0.10.in-addr.arpa."), null);
  });
});

describe("hosts (README example)", () => {
  let upstream: Upstream;
  let server: { host: string; port: number };
  let strict: { host: string; port: number };
  let cached: { host: string; port: number };
  let hostsFile: string;
  let metricsUrl: string;

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [soaRecord("example.org", { ttl: 300, minimum: 30 }), "up.example.org. 300 IN A 192.0.2.99"],
    });
    hostsFile = join(await tempDir("nldns-hosts-"), "hosts");
    await writeFile(hostsFile, "10.0.0.2 file.example.org\n10.0.0.3 *.wild.example.org\n");
    const host = uniqueLoopback();
    server = { host, port: await freePort(host) };
    strict = { host, port: await freePort(host) };
    cached = { host, port: await freePort(host) };
    metricsUrl = `http://${host}:${await freePort(host)}/metrics`;
    const example = localized(readmeExample("`hosts"), {
      ...server,
      upstream,
      replace: { "/etc/hosts": hostsFile },
    });
    await startDaemon({
      corefile: `${example}
example.org:${strict.port} {
    bind ${host}
    hosts ${hostsFile}
    prometheus ${new URL(metricsUrl).host}
    forward . ${upstream.host}:${upstream.port}
}
example.org:${cached.port} {
    bind ${host}
    cache 30
    hosts ${hostsFile}
}
`,
      readyProbe: server,
    });
  });

  test("inline and file entries, with the ttl, AA, and the client's spelling", async () => {
    const db = await dig(server, "DB.example.org", "A");
    assert.deepEqual(
      db.answer.map((r) => [r.name, r.ttl, r.data]),
      [["DB.example.org.", 60, "192.0.2.7"]],
    );
    assert.ok(db.flags.includes("aa"));
    assert.equal((await dig(server, "example.org", "A")).answer[0]?.data, "10.0.0.1");
    assert.equal((await dig(server, "file.example.org", "A")).answer[0]?.data, "10.0.0.2");
    assert.equal((await dig(server, "x.wild.example.org", "A")).answer[0]?.data, "10.0.0.3");
  });

  test("behind the cache, every client gets its own spelling of the owner name", async () => {
    const first = await dig(cached, "FiLe.example.org", "A");
    assert.equal(first.answer[0]?.name, "FiLe.example.org.");
    const second = await dig(cached, "fIlE.EXAMPLE.org", "A");
    assert.equal(second.answer[0]?.name, "fIlE.EXAMPLE.org.");
    assert.ok(second.answer[0]!.ttl <= 30);
  });

  test("PTR for an entry's address; a held name without the type is NODATA", async () => {
    const ptr = await dig(server, "1.0.0.10.in-addr.arpa", "PTR");
    assert.deepEqual(
      ptr.answer.map((r) => [r.type, r.data]),
      [["PTR", "example.org."]],
    );
    const nodata = await dig(server, "db.example.org", "AAAA");
    assert.equal(nodata.rcode, "NOERROR");
    assert.equal(nodata.answer.length, 0);
  });

  test("fallthrough: names the table lacks go to the upstream; without it, SERVFAIL", async () => {
    assert.equal((await dig(server, "up.example.org", "A")).answer[0]?.data, "192.0.2.99");
    assert.equal((await dig(strict, "up.example.org", "A")).rcode, "SERVFAIL");
    assert.equal((await dig(strict, "file.example.org", "A")).answer[0]?.data, "10.0.0.2");
  });

  test("a changed file is served after the reload period", async () => {
    await writeFile(hostsFile, "10.0.0.20 file.example.org\n10.0.0.21 new.example.org\n");
    let answer = "";
    for (let i = 0; i < 40 && answer !== "10.0.0.21"; i++) {
      await sleep(250);
      answer = (await dig(server, "new.example.org", "A")).answer[0]?.data ?? "";
    }
    assert.equal(answer, "10.0.0.21");
    assert.equal((await dig(server, "file.example.org", "A")).answer[0]?.data, "10.0.0.20");
    // The second block reloads every 5 s (CoreDNS's default).
    let strictAnswer = "";
    for (let i = 0; i < 60 && strictAnswer !== "10.0.0.21"; i++) {
      await sleep(250);
      strictAnswer = (await dig(strict, "new.example.org", "A")).answer[0]?.data ?? "";
    }
    assert.equal(strictAnswer, "10.0.0.21");
  });

  test("coredns_hosts_entries and coredns_hosts_reload_timestamp_seconds", async () => {
    const text = await (await fetch(metricsUrl)).text();
    assert.match(text, new RegExp(`coredns_hosts_entries\\{hostsfile="${hostsFile}"\\} \\d`));
    const stamp = text.match(/^coredns_hosts_reload_timestamp_seconds (\S+)$/m);
    assert.ok(stamp && Number(stamp[1]) > 1.6e9, text);
  });
});
