// node-cache compatibility, pure parts: Corefile generation from the stock base file, the kube-dns
// ConfigMap's validation, and the choice of the node's upstream resolvers.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parseCorefile } from "../src/config/index.ts";
import {
  CorefileGenerator,
  EMPTY_KUBE_DNS_CONFIG,
  generateCorefile,
  type KubeDnsConfig,
  nameserverProblem,
  parseStubDomains,
  parseUpstreamNameservers,
  selectNodeUpstreams,
  serviceHostEnv,
  stubDomainBlock,
} from "../src/nodecache/index.ts";

const STOCK = readFileSync(
  new URL("./fixtures/corefiles/nodelocaldns-stock.Corefile", import.meta.url),
  "utf8",
);
// What the manifest's sed does before the ConfigMap reaches node-cache (iptables mode).
const BASE = STOCK.replaceAll("__PILLAR__DNS__DOMAIN__", "cluster.local")
  .replaceAll("__PILLAR__LOCAL__DNS__", "169.254.20.10")
  .replaceAll("__PILLAR__DNS__SERVER__", "10.96.0.10");

const silent: Record<string, unknown> = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return silent;
  },
};

function gen(base: string, kubeDns: KubeDnsConfig = EMPTY_KUBE_DNS_CONFIG, nodeUpstreams = ["192.0.2.53"]) {
  return generateCorefile(base, {
    clusterDns: "10.96.0.11",
    clusterDnsEnv: "KUBE_DNS_UPSTREAM_SERVICE_HOST",
    localIps: ["169.254.20.10", "10.96.0.10"],
    port: 53,
    kubeDns,
    nodeUpstreams: () => nodeUpstreams,
  }).text;
}

describe("generateCorefile (node-cache updateCorefile)", () => {
  test("service env name: upper case, dashes to underscores", () => {
    assert.equal(serviceHostEnv("kube-dns-upstream"), "KUBE_DNS_UPSTREAM_SERVICE_HOST");
    assert.equal(serviceHostEnv("kube-dns"), "KUBE_DNS_SERVICE_HOST");
  });

  test("stock base: cluster DNS and the node's resolvers filled in, nothing else changed, and it parses", () => {
    const text = gen(BASE);
    assert.equal(
      text,
      BASE.replaceAll("__PILLAR__CLUSTER__DNS__", "10.96.0.11").replaceAll(
        "__PILLAR__UPSTREAM__SERVERS__",
        "192.0.2.53",
      ),
    );
    const config = parseCorefile(text, { file: "Corefile" });
    assert.deepEqual(
      config.blocks.map((b) => b.zones[0]),
      ["cluster.local.", "in-addr.arpa.", "ip6.arpa.", "."],
    );
    assert.deepEqual(config.blocks[0]!.forward!.to, [{ host: "10.96.0.11", port: 53 }]);
    assert.equal(config.blocks[0]!.forward!.forceTcp, true);
    assert.deepEqual(config.blocks[3]!.forward!.to, [{ host: "192.0.2.53", port: 53 }]);
    assert.deepEqual(config.blocks[0]!.bind, ["169.254.20.10", "10.96.0.10"]);
  });

  test("ipvs mode: __PILLAR__LOCAL__DNS__ gets every -localip, __PILLAR__DNS__SERVER__ is removed", () => {
    const base = STOCK.replaceAll("__PILLAR__DNS__DOMAIN__", "cluster.local");
    const text = generateCorefile(base, {
      clusterDns: "10.96.0.11",
      clusterDnsEnv: "X",
      localIps: ["169.254.20.10"],
      port: 53,
      kubeDns: EMPTY_KUBE_DNS_CONFIG,
      nodeUpstreams: () => ["192.0.2.53"],
    }).text;
    assert.match(text, /bind 169\.254\.20\.10 \n/);
    assert.doesNotMatch(text, /__PILLAR__/);
    parseCorefile(text, { file: "Corefile" });
  });

  test("stub domains: node-cache's block template, one per domain, sorted, on -dns.port", () => {
    assert.equal(
      stubDomainBlock("acme.local", 53, ["169.254.20.10", "10.96.0.10"], ["1.2.3.4", "5.6.7.8:5353"]),
      "\nacme.local:53 {\n    errors\n    cache 30\n    bind 169.254.20.10 10.96.0.10\n    forward . 1.2.3.4 5.6.7.8:5353\n}\n",
    );
    const text = gen(BASE, {
      stubDomains: { "z.test": ["1.1.1.1"], "a.test": ["2.2.2.2"] },
      upstreamNameservers: [],
    });
    assert.ok(
      text.endsWith(
        `${stubDomainBlock("a.test", 53, ["169.254.20.10", "10.96.0.10"], ["2.2.2.2"])}${stubDomainBlock("z.test", 53, ["169.254.20.10", "10.96.0.10"], ["1.1.1.1"])}`,
      ),
    );
    const config = parseCorefile(text, { file: "Corefile" });
    const stub = config.blocks.find((b) => b.zones[0] === "a.test.")!;
    assert.equal(stub.cache!.success.maxTtl, 30);
    assert.equal(stub.forward!.forceTcp, false);
  });

  test("upstreamNameservers replace the node's resolvers; a force_tcp upstream block becomes UDP", () => {
    const kubeDns = { stubDomains: {}, upstreamNameservers: ["8.8.8.8", "8.8.4.4:5353"] };
    const text = gen(BASE, kubeDns, ["192.0.2.53"]);
    assert.match(text, /forward \. 8\.8\.8\.8 8\.8\.4\.4:5353\n/);
    assert.doesNotMatch(text, /192\.0\.2\.53/);
    const tcpBase = BASE.replace(
      "forward . __PILLAR__UPSTREAM__SERVERS__\n",
      "forward . __PILLAR__UPSTREAM__SERVERS__ {\n            force_tcp\n    }\n",
    );
    const out = gen(tcpBase, kubeDns);
    const dot = parseCorefile(out, { file: "C" }).blocks.find((b) => b.zones[0] === ".")!;
    assert.equal(dot.forward!.forceTcp, false);
    assert.deepEqual(
      dot.forward!.to.map((u) => `${u.host}:${u.port}`),
      ["8.8.8.8:53", "8.8.4.4:5353"],
    );
  });

  test("missing or bad $<SVC>_SERVICE_HOST is an error naming the variable", () => {
    const p = {
      clusterDnsEnv: "KUBE_DNS_UPSTREAM_SERVICE_HOST",
      localIps: ["169.254.20.10"],
      port: 53,
      kubeDns: EMPTY_KUBE_DNS_CONFIG,
      nodeUpstreams: () => ["192.0.2.1"],
    };
    assert.throws(
      () => generateCorefile(BASE, { ...p, clusterDns: null }),
      /\$KUBE_DNS_UPSTREAM_SERVICE_HOST is not set/,
    );
    assert.throws(() => generateCorefile(BASE, { ...p, clusterDns: "kube-dns" }), /not an IP address/);
    // Not needed when the base file does not use it.
    generateCorefile(".:53 {\n forward . 1.1.1.1\n}\n", { ...p, clusterDns: null });
  });
});

describe("kube-dns ConfigMap validation", () => {
  test("nameservers: IP, IP:PORT, [IPv6]:PORT; hostnames and bad ports refused", () => {
    for (const ok of ["1.2.3.4", "1.2.3.4:5353", "2001:db8::1", "[2001:db8::1]:53", "dns://1.2.3.4"]) {
      assert.equal(nameserverProblem(ok), null, ok);
    }
    assert.match(nameserverProblem("ns.example.com")!, /hostnames are not allowed/);
    assert.match(nameserverProblem("ns.example.com:53")!, /not an IP address/);
    assert.match(nameserverProblem("1.2.3.4:99999")!, /bad port/);
    assert.match(nameserverProblem("1.2.3.4:abc")!, /bad port/);
    assert.match(nameserverProblem("[2001:db8::1]:0")!, /bad port/);
    assert.match(nameserverProblem("tls://1.2.3.4")!, /only plain DNS/);
  });

  test("stubDomains and upstreamNameservers: JSON shape, DNS-1123 domains, at most three upstreams", () => {
    assert.deepEqual(parseStubDomains('{"acme.local": ["1.2.3.4", "5.6.7.8:53"]}'), {
      "acme.local": ["1.2.3.4", "5.6.7.8:53"],
    });
    assert.deepEqual(parseStubDomains(""), {});
    assert.throws(() => parseStubDomains('{"acme.local": ["1.2.3.4"'), /invalid JSON/);
    assert.throws(() => parseStubDomains('["1.2.3.4"]'), /JSON object/);
    assert.throws(() => parseStubDomains('{"Acme_Local": ["1.2.3.4"]}'), /invalid domain name/);
    assert.throws(() => parseStubDomains('{"acme.local": []}'), /no nameservers/);
    assert.throws(() => parseStubDomains('{"acme.local": ["ns.acme.local"]}'), /hostnames are not allowed/);
    assert.deepEqual(parseUpstreamNameservers('["8.8.8.8", "8.8.4.4"]'), ["8.8.8.8", "8.8.4.4"]);
    assert.throws(() => parseUpstreamNameservers('"8.8.8.8"'), /JSON list/);
    assert.throws(() => parseUpstreamNameservers('["1.1.1.1","2.2.2.2","3.3.3.3","4.4.4.4"]'), /at most 3/);
    assert.throws(() => parseUpstreamNameservers('["8.8.8.8:70000"]'), /bad port/);
  });
});

describe("node upstream selection", () => {
  const files = (m: Record<string, string>) => (p: string) => m[p] ?? null;
  const paths = { resolvConf: "/r", systemdResolvConf: "/s" };

  test("plain resolv.conf is used as is", () => {
    const r = selectNodeUpstreams(
      paths,
      ["169.254.20.10"],
      files({ "/r": "nameserver 10.0.0.2\nnameserver 10.0.0.3\n" }),
    );
    assert.deepEqual(r, { servers: ["10.0.0.2", "10.0.0.3"], source: "/r", note: null });
  });

  test("a loopback stub only: systemd's resolv.conf when present, else the stub with a note", () => {
    const both = files({ "/r": "nameserver 127.0.0.53\noptions edns0\n", "/s": "nameserver 10.0.0.2\n" });
    const r = selectNodeUpstreams(paths, ["169.254.20.10"], both);
    assert.deepEqual(r.servers, ["10.0.0.2"]);
    assert.equal(r.source, "/s");
    assert.match(r.note!, /only the local stub 127\.0\.0\.53; using \/s/);
    const stubOnly = selectNodeUpstreams(paths, [], files({ "/r": "nameserver 127.0.0.1\n" }));
    assert.deepEqual(stubOnly.servers, ["127.0.0.1"]);
    assert.match(stubOnly.note!, /does not exist; forwarding to the stub/);
  });

  test("our own -localip addresses are never upstreams", () => {
    const r = selectNodeUpstreams(
      paths,
      ["169.254.20.10", "10.96.0.10"],
      files({ "/r": "nameserver 169.254.20.10\nnameserver 10.0.0.2\n" }),
    );
    assert.deepEqual(r.servers, ["10.0.0.2"]);
    assert.match(r.note!, /skipped our own/);
    const onlyOurs = files({
      "/r": "nameserver 169.254.20.10\n",
      "/s": "nameserver 169.254.20.10\nnameserver 10.0.0.9\n",
    });
    assert.deepEqual(selectNodeUpstreams(paths, ["169.254.20.10"], onlyOurs).servers, ["10.0.0.9"]);
    assert.throws(
      () => selectNodeUpstreams(paths, ["169.254.20.10"], files({ "/r": "nameserver 169.254.20.10\n" })),
      /no upstream nameserver.*never used as upstreams/,
    );
  });
});

describe("CorefileGenerator", () => {
  function setup(cm: Record<string, string>) {
    const fs: Record<string, string> = {
      "/base": BASE,
      "/etc/resolv.conf": "nameserver 10.0.0.2\n",
      ...Object.fromEntries(Object.entries(cm).map(([k, v]) => [`/cm/${k}`, v])),
    };
    let errors = 0;
    const logged: string[] = [];
    const log = { ...silent, error: (_f: unknown, m: string) => logged.push(m), info() {} } as never;
    const g = new CorefileGenerator({
      baseFile: "/base",
      confFile: "/conf",
      kubednsDir: "/cm",
      upstreamSvc: "kube-dns-upstream",
      localIps: ["169.254.20.10", "10.96.0.10"],
      port: 53,
      env: { KUBE_DNS_UPSTREAM_SERVICE_HOST: "10.96.0.11" },
      paths: { resolvConf: "/etc/resolv.conf", systemdResolvConf: "/none" },
      validate: (t) => void parseCorefile(t, { file: "/conf" }),
      log,
      onConfigMapError: () => errors++,
      read: (p) => fs[p] ?? null,
      write: (p, t) => {
        fs[p] = t;
      },
    });
    return { g, fs, errors: () => errors, logged };
  }

  test("writes -conf; a bad value is reported once with key and value; the last good one stays", () => {
    const s = setup({ stubDomains: '{"acme.local": ["1.2.3.4"]}' });
    s.g.sync();
    assert.match(s.fs["/conf"]!, /acme\.local:53/);
    s.fs["/cm/stubDomains"] = '{"acme.local": ["ns1.acme.local"]}';
    s.g.sync();
    s.g.sync();
    assert.equal(s.errors(), 1);
    assert.match(s.logged[0]!, /stubDomains.*ns1\.acme\.local/);
    assert.match(s.fs["/conf"]!, /forward \. 1\.2\.3\.4/);
    s.fs["/cm/stubDomains"] = '{"other.local": ["5.6.7.8"]}';
    s.g.sync();
    assert.match(s.fs["/conf"]!, /other\.local:53/);
    assert.doesNotMatch(s.fs["/conf"]!, /acme\.local/);
  });

  test("a stub domain that collides with a base block is refused and counted; the rest serves", () => {
    const s = setup({ stubDomains: '{"cluster.local": ["1.2.3.4"]}', upstreamNameservers: '["9.9.9.9"]' });
    s.g.sync();
    assert.equal(s.errors(), 1);
    assert.match(s.logged[0]!, /stubDomains.*generated Corefile is invalid/);
    // Only the key at fault is held back: upstreamNameservers still applies.
    assert.match(s.fs["/conf"]!, /forward \. 9\.9\.9\.9\n/);
    assert.doesNotMatch(s.fs["/conf"]!, /forward \. 1\.2\.3\.4/);
  });

  test("base file gone: -conf is left as it is (counted once, as node-cache's configmap error)", () => {
    const s = setup({});
    s.g.sync();
    const before = s.fs["/conf"];
    delete s.fs["/base"];
    assert.equal(s.g.sync(), null);
    assert.equal(s.g.sync(), null);
    assert.equal(s.fs["/conf"], before);
    assert.equal(s.errors(), 1);
  });
});
