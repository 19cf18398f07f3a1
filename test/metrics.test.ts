// CoreDNS-compatible metrics from the real daemon in front of a real unbound: a known sequence of
// queries (misses, hits, NXDOMAIN, NODATA, TCP, IPv6, DO bit, an "other" type, an upstream that is
// down), then /metrics scraped over HTTP and checked series by series, with CoreDNS's names, labels
// and buckets; `promtool check metrics` lints the exposition.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  cleanupAll,
  type Daemon,
  freePort,
  hostPort,
  query,
  soaRecord,
  startDaemon,
  startUnbound,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

/** CoreDNS plugin.TimeBuckets as its exposition prints them. */
const TIME_BUCKETS =
  "0.00025 0.0005 0.001 0.002 0.004 0.008 0.016 0.032 0.064 0.128 0.256 0.512 1.024 2.048 4.096 8.192";
const SIZE_BUCKETS = "0 100 200 300 400 511 1023 2047 4095 8291 16000 32000 48000 64000";

describe("metrics after a known sequence of queries", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let addr: string;
  let port: number;
  let metricsUrl: string;
  let deadUpstream: string;
  let before0: Samples;
  let after0: Samples;
  let text: string;
  const delta = (name: string, labels: Record<string, string>) =>
    val(after0, name, labels) - val(before0, name, labels);

  before(async () => {
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("example.test", { ttl: 300, minimum: 60 }),
        "hit.example.test. 300 IN A 192.0.2.1",
        'txt.example.test. 300 IN TXT "hello"',
      ],
    });
    addr = uniqueLoopback();
    port = await freePort(addr);
    const metricsPort = await freePort(addr);
    const healthPort = await freePort(addr);
    const dead = uniqueLoopback();
    deadUpstream = hostPort(dead, await freePort(dead));
    metricsUrl = `http://${addr}:${metricsPort}/metrics`;
    const corefile = `example.test:${port} {
    bind ${addr} ::1
    cache 30
    forward . ${upstream.address}
    prometheus ${addr}:${metricsPort}
    health ${addr}:${healthPort}
}
dead.test:${port} {
    bind ${addr}
    forward . ${deadUpstream} {
        max_fails 1
        health_check 200ms
    }
    prometheus ${addr}:${metricsPort}
}
`;
    const server = { host: addr, port };
    // The readiness probe's name is in no block: REFUSED by the server, counted nowhere.
    daemon = await startDaemon({ corefile, readyProbe: server });
    before0 = await scrape(metricsUrl);

    const v4 = server;
    const v6 = { host: "::1", port };
    const expect = async (p: Promise<{ rcode: string }>, rcode: string) =>
      assert.equal((await p).rcode, rcode);
    await expect(query(v4, "hit.example.test", "A"), "NOERROR"); // miss
    await expect(query(v4, "hit.example.test", "A"), "NOERROR"); // hit
    await expect(query(v4, "HIT.example.test", "A"), "NOERROR"); // hit (case-insensitive key)
    await expect(query(v4, "nx.example.test", "A"), "NXDOMAIN"); // miss
    await expect(query(v4, "nx.example.test", "A"), "NXDOMAIN"); // denial hit
    await expect(query(v4, "txt.example.test", "TXT", { proto: "tcp" }), "NOERROR"); // miss over TCP
    await expect(query(v4, "hit.example.test", "CAA"), "NOERROR"); // NODATA, type "other"
    await expect(query(v6, "hit.example.test", "AAAA", { dnssecOk: true }), "NOERROR"); // NODATA, family 2, DO
    await expect(query(v4, "www.dead.test", "A", { timeoutMs: 8000 }), "SERVFAIL");
    await new Promise((r) => setTimeout(r, 700)); // a health check or two of the dead upstream fail
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    text = await res.text();
    if (process.env.DUMP_SCRAPE) writeFileSync(process.env.DUMP_SCRAPE, text);
    after0 = await scrape(metricsUrl);
  });

  after(async () => {
    await daemon?.stop();
    await upstream?.stop();
    await cleanupAll();
  });

  const S = () => `dns://${addr}:${port}`;
  const S6 = () => `dns://[::1]:${port}`;

  test("coredns_dns_requests_total per server, zone, proto, family and type", () => {
    const name = "coredns_dns_requests_total";
    const l = (server: string, zone: string, proto: string, family: string, type: string) => ({
      server,
      zone,
      view: "",
      proto,
      family,
      type,
    });
    assert.equal(delta(name, l(S(), "example.test.", "udp", "1", "A")), 5);
    assert.equal(delta(name, l(S(), "example.test.", "tcp", "1", "TXT")), 1);
    assert.equal(delta(name, l(S(), "example.test.", "udp", "1", "other")), 1);
    assert.equal(delta(name, l(S6(), "example.test.", "udp", "2", "AAAA")), 1);
    assert.equal(delta(name, l(S(), "dead.test.", "udp", "1", "A")), 1);
    assert.equal(sumWhere(after0, name, {}) - sumWhere(before0, name, {}), 9, "nothing else counted");
    assert.equal(
      delta("coredns_dns_do_requests_total", { server: S6(), zone: "example.test.", view: "" }),
      1,
    );
    assert.equal(sumWhere(after0, "coredns_dns_do_requests_total", {}), 1);
  });

  test("coredns_dns_responses_total per rcode and the plugin that answered", () => {
    const name = "coredns_dns_responses_total";
    const l = (server: string, zone: string, rcode: string, plugin: string) => ({
      server,
      zone,
      view: "",
      rcode,
      plugin,
    });
    assert.equal(delta(name, l(S(), "example.test.", "NOERROR", "forward")), 3);
    assert.equal(delta(name, l(S(), "example.test.", "NOERROR", "cache")), 2);
    assert.equal(delta(name, l(S(), "example.test.", "NXDOMAIN", "forward")), 1);
    assert.equal(delta(name, l(S(), "example.test.", "NXDOMAIN", "cache")), 1);
    assert.equal(delta(name, l(S6(), "example.test.", "NOERROR", "forward")), 1);
    assert.equal(delta(name, l(S(), "dead.test.", "SERVFAIL", "forward")), 1);
    assert.equal(sumWhere(after0, name, {}) - sumWhere(before0, name, {}), 9);
  });

  test("request duration and sizes: CoreDNS labels and buckets, one observation per query", () => {
    const zoneLabels = { server: S(), zone: "example.test.", view: "" };
    assert.equal(delta("coredns_dns_request_duration_seconds_count", zoneLabels), 7);
    assert.equal(delta("coredns_dns_request_duration_seconds_count", { ...zoneLabels, server: S6() }), 1);
    assert.equal(
      delta("coredns_dns_request_duration_seconds_count", { ...zoneLabels, zone: "dead.test." }),
      1,
    );
    const les = (metric: string, labels: Record<string, string>) =>
      [...after0.keys()]
        .filter(
          (k) =>
            k.startsWith(`${metric}_bucket{`) &&
            Object.entries(labels).every(([n, v]) => k.includes(`${n}="${v}"`)),
        )
        .map((k) => /le="([^"]+)"/.exec(k)![1]!)
        .filter((le) => le !== "+Inf")
        .sort((a, b) => Number(a) - Number(b))
        .join(" ");
    assert.equal(les("coredns_dns_request_duration_seconds", zoneLabels), TIME_BUCKETS);
    assert.equal(les("coredns_dns_request_size_bytes", { ...zoneLabels, proto: "udp" }), SIZE_BUCKETS);
    assert.equal(les("coredns_dns_response_size_bytes", { ...zoneLabels, proto: "tcp" }), SIZE_BUCKETS);
    assert.equal(
      les("coredns_proxy_request_duration_seconds", { to: upstream.address, rcode: "NOERROR" }),
      TIME_BUCKETS,
    );
    // The duration histogram has no `type` label: CoreDNS's code has none (its README says otherwise).
    assert.ok(
      ![...after0.keys()].some(
        (k) => k.startsWith("coredns_dns_request_duration_seconds") && k.includes("type="),
      ),
    );
    for (const metric of ["coredns_dns_request_size_bytes", "coredns_dns_response_size_bytes"]) {
      assert.equal(delta(`${metric}_count`, { ...zoneLabels, proto: "udp" }), 6, metric);
      assert.equal(delta(`${metric}_count`, { ...zoneLabels, proto: "tcp" }), 1, metric);
    }
    // Every request here is well under 100 bytes (no EDNS but for the DO query on ::1).
    assert.equal(
      delta("coredns_dns_request_size_bytes_bucket", { ...zoneLabels, proto: "udp", le: "100" }),
      6,
    );
  });

  test("cache requests, hits, misses and entries per store", () => {
    const z = { zones: "example.test.", view: "" };
    assert.equal(sumWhere(after0, "coredns_cache_requests_total", z), 8);
    assert.equal(sumWhere(after0, "coredns_cache_hits_total", { ...z, type: "success" }), 2);
    assert.equal(sumWhere(after0, "coredns_cache_hits_total", { ...z, type: "denial" }), 1);
    assert.equal(sumWhere(after0, "coredns_cache_misses_total", z), 5);
    assert.equal(val(after0, "coredns_cache_entries", { server: S(), type: "success", ...z }), 2);
    assert.equal(val(after0, "coredns_cache_entries", { server: S(), type: "denial", ...z }), 3);
  });

  test("proxy durations per upstream and rcode; failures, health checks and broken counted", () => {
    const p = (to: string, rcode: string) => ({ proxy_name: "forward", to, rcode });
    assert.equal(delta("coredns_proxy_request_duration_seconds_count", p(upstream.address, "NOERROR")), 4);
    assert.equal(delta("coredns_proxy_request_duration_seconds_count", p(upstream.address, "NXDOMAIN")), 1);
    // As CoreDNS: an exchange without a reply has no duration; it is counted as a failure instead.
    assert.equal(sumWhere(after0, "coredns_proxy_request_duration_seconds_count", { to: deadUpstream }), 0);
    assert.ok(sumWhere(after0, "coredns_nodelocaldns_upstream_failures_total", { to: deadUpstream }) >= 1);
    assert.equal(
      sumWhere(after0, "coredns_nodelocaldns_upstream_failures_total", { to: upstream.address }),
      0,
    );
    assert.ok(
      val(after0, "coredns_proxy_healthcheck_failures_total", { proxy_name: "forward", to: deadUpstream }) >=
        1,
    );
    assert.equal(sumWhere(after0, "coredns_proxy_healthcheck_failures_total", { to: upstream.address }), 0);
    assert.ok(val(after0, "coredns_forward_healthcheck_broken_total", {}) >= 1);
    assert.equal(val(after0, "coredns_forward_max_concurrent_rejects_total", {}), 0);
  });

  test("coredns_build_info agrees with -version; health self-probe rounds are measured", () => {
    const out = execFileSync(process.execPath, [daemonEntryPath(daemon), "-version"], { encoding: "utf8" });
    const m = /^nodelocaldns (\S+) \(node (\S+)\)/.exec(out);
    assert.ok(m, out);
    assert.equal(
      val(after0, "coredns_build_info", { version: m[1]!, revision: "", goversion: `node${m[2]}` }),
      1,
    );
    assert.equal(sumWhere(after0, "coredns_build_info", {}), 1, "one build_info series");
    assert.ok(val(after0, "coredns_health_request_duration_seconds_count", {}) >= 1);
    assert.equal(val(after0, "coredns_health_request_failures_total", {}), 0);
    assert.ok(val(after0, "process_resident_memory_bytes", {}) > 0);
    assert.equal(val(after0, "coredns_reload_failed_total", {}), 0);
    assert.equal(val(after0, "coredns_panics_total", {}), 0);
  });

  test("promtool check metrics accepts the exposition, and rejects a broken one", () => {
    const ok = spawnSync("promtool", ["check", "metrics"], {
      input: text,
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const bad = spawnSync("promtool", ["check", "metrics"], {
      input: `${text}\ncoredns_dns_requests_total{server="x" 1\n`,
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.notEqual(bad.status, 0);
  });
});

/** The entry script the daemon runs (its argv[1]). */
function daemonEntryPath(daemon: Daemon): string {
  const cmdline = execFileSync("cat", [`/proc/${daemon.pid}/cmdline`], { encoding: "latin1" }).split("\0");
  const script = cmdline.find((a) => a.endsWith(".js") || a.endsWith(".ts"));
  assert.ok(script, cmdline.join(" "));
  return script;
}

/** Samples of a text exposition, keyed `name{a="1",b="2"}` with label names sorted. */
type Samples = Map<string, number>;

function sampleKey(name: string, labels: Record<string, string>): string {
  const body = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(",");
  return `${name}{${body}}`;
}

function parseExposition(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.set(sampleKey(m[1]!, labels), Number(m[3]));
  }
  return out;
}

async function scrape(url: string): Promise<Samples> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

/** The sample with exactly these labels, 0 when absent. */
function val(samples: Samples, name: string, labels: Record<string, string>): number {
  return samples.get(sampleKey(name, labels)) ?? 0;
}

/** The sum over every series of `name` whose labels include `labels`. */
function sumWhere(samples: Samples, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const [key, value] of samples) {
    if (!key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}
