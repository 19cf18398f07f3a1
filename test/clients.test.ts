// The client matrix: real resolver libraries and tools against the real daemon in front of unbound,
// all inside a network namespace made here, where the daemon listens on 127.0.0.1:53 and each client
// sees a pod's resolv.conf (ndots:5, a namespace's search list) bind-mounted over /etc/resolv.conf in
// its own mount namespace. Clients: glibc (getent), musl (a static client built here), Go's pure
// resolver (built here), c-ares (Node's dns.Resolver), dig and kdig. The 60-record name is larger
// than 512 bytes: TCP-capable clients retry on TC and get all 60, musl (no TCP fallback in 1.2.3)
// keeps the records that fit in the truncated UDP answer.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Netns } from "./fixtures/netif-runner.ts";
import { type NsDaemon, scopedNetns, startDaemonIn, startUnboundIn } from "./fixtures/netns-daemon.ts";
import { cleanupAll, tempDir } from "./support/index.ts";

const root = process.getuid?.() === 0;
const CLIENTS = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "clients");
const MANY = 60;
const SEARCH = "default.svc.cluster.local svc.cluster.local cluster.local";

const RECORDS = [
  "a.example.test. 300 IN A 10.1.2.3", // the fixture's readiness probe
  "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30",
  "web.default.svc.cluster.local. 30 IN A 10.96.0.10",
  "web.default.svc.cluster.local. 30 IN AAAA fd00::10",
  "_http._tcp.web.default.svc.cluster.local. 30 IN SRV 0 100 80 web.default.svc.cluster.local.",
  "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 30",
  "www.example.test. 300 IN A 192.0.2.1",
  "www.example.test. 300 IN AAAA 2001:db8::1",
  "10.0.96.10.in-addr.arpa. 30 IN PTR web.default.svc.cluster.local.",
  ...Array.from({ length: MANY }, (_, i) => `many.example.test. 300 IN A 10.9.0.${i + 1}`),
];
const ZONES = [
  { name: "cluster.local.", type: "static" as const },
  { name: "example.test.", type: "static" as const },
  { name: "10.in-addr.arpa.", type: "static" as const },
];

interface Run {
  code: number;
  out: string[];
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    const options = { env, timeout: 120_000, maxBuffer: 1 << 20, ...(cwd ? { cwd } : {}) };
    execFile(file, args, options, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      const out = `${stdout}${code !== 0 ? stderr : ""}`.split("\n").filter((l) => l.trim() !== "");
      resolve({ code, out });
    });
  });
}

/** Builds (once per source version; kept in the temp dir) a client binary; null when the compiler is absent. */
async function cachedBuild(
  name: string,
  sources: string[],
  build: (out: string, scratch: string) => Promise<Run>,
): Promise<string | null> {
  const hash = createHash("sha256");
  for (const s of sources) hash.update(await readFile(s));
  const dir = join(tmpdir(), "nldns-client-bins");
  await mkdir(dir, { recursive: true });
  const out = join(dir, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}`;
  const result = await build(partial, dir);
  if (result.code !== 0) throw new Error(`building ${name} failed:\n${result.out.join("\n")}`);
  await rename(partial, out);
  return out;
}

async function buildMusl(): Promise<string | null> {
  if (!existsSync("/usr/bin/musl-gcc")) return null;
  const source = join(CLIENTS, "musl-resolve.c");
  return cachedBuild("musl-resolve", [source], (out) =>
    run("/usr/bin/musl-gcc", ["-static", "-O1", "-o", out, source]),
  );
}

async function buildGo(): Promise<string | null> {
  if (!existsSync("/usr/bin/go")) return null;
  const src = join(CLIENTS, "goresolve");
  return cachedBuild("goresolve", [join(src, "main.go"), join(src, "go.mod")], (out, dir) =>
    run(
      "/usr/bin/go",
      ["build", "-o", out, "."],
      {
        ...process.env,
        GOFLAGS: "-mod=mod",
        GOPROXY: "off",
        GOCACHE: join(dir, "gocache"),
        GOPATH: join(dir, "gopath"),
        CGO_ENABLED: "0",
      },
      src,
    ),
  );
}

/** c-ares (Node's dns.Resolver, which does not apply the search list) against 127.0.0.1:53. */
const CARES_SCRIPT = `
const { Resolver } = require("node:dns").promises;
const r = new Resolver({ timeout: 3000, tries: 2 });
r.setServers(["127.0.0.1"]);
const [op, name] = process.argv.slice(1);
const call = { a: () => r.resolve4(name), aaaa: () => r.resolve6(name),
  srv: () => r.resolveSrv(name).then((s) => s.map((x) => x.name + " " + x.port)), ptr: () => r.reverse(name) }[op];
call().then((out) => console.log(out.join("\\n")), (e) => { console.log(e.code === "ENOTFOUND" ? "NOTFOUND" : "ERR " + e.code); process.exit(1); });
`;

describe("client matrix: real resolver libraries against the daemon in front of unbound", {
  skip: !root && "needs root (network and mount namespaces)",
}, () => {
  let ns: Netns;
  let daemon: NsDaemon;
  let resolvConf: string;
  let musl: string | null = null;
  let go: string | null = null;

  /** A program in the namespace, with the pod's resolv.conf over /etc/resolv.conf. */
  const inPod = (file: string, args: string[]): Promise<Run> =>
    run("/usr/sbin/ip", [
      "netns",
      "exec",
      ns.name,
      "unshare",
      "-m",
      "sh",
      "-c",
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      resolvConf,
      file,
      ...args,
    ]);

  before(async () => {
    [musl, go] = await Promise.all([buildMusl(), buildGo()]);
    ns = await scopedNetns("nldns-clients");
    await startUnboundIn(ns, "127.0.0.2", 53, { records: RECORDS, zones: ZONES });
    daemon = await startDaemonIn(ns, {
      corefile: `.:53 {
    bind 127.0.0.1
    errors
    cache 30
    forward . 127.0.0.2
}
`,
      args: [],
    });
    const dir = await tempDir("nldns-pod-");
    resolvConf = join(dir, "resolv.conf");
    await writeFile(resolvConf, `nameserver 127.0.0.1\nsearch ${SEARCH}\noptions ndots:5\n`);
  });

  after(cleanupAll);

  const manyAddresses = Array.from({ length: MANY }, (_, i) => `10.9.0.${i + 1}`).sort();
  const uniqueSorted = (lines: string[]) => [...new Set(lines)].sort();

  test("glibc getaddrinfo (getent ahosts): short names via the search list, FQDN, A+AAAA, PTR, NXDOMAIN, 60 records", async () => {
    const ahosts = async (name: string) => {
      const r = await inPod("getent", ["ahosts", name]);
      return { code: r.code, addrs: uniqueSorted(r.out.map((l) => l.split(/\s+/)[0]!)) };
    };
    assert.deepEqual((await ahosts("web")).addrs, ["10.96.0.10", "fd00::10"], "short name, ndots:5");
    assert.deepEqual((await ahosts("web.default")).addrs, ["10.96.0.10", "fd00::10"]);
    assert.deepEqual((await ahosts("www.example.test.")).addrs, ["192.0.2.1", "2001:db8::1"]);
    assert.equal((await ahosts("nothing.example.test")).code, 2, "NXDOMAIN: not found");
    assert.deepEqual((await ahosts("many.example.test.")).addrs, manyAddresses, "TC, then TCP: all 60");
    const ptr = await inPod("getent", ["hosts", "10.96.0.10"]);
    assert.match(ptr.out.join("\n"), /web\.default\.svc\.cluster\.local/);
  });

  test("musl getaddrinfo/getnameinfo (static client): the same names; at least 25 of the 60 from the truncated answer", async (t) => {
    if (musl === null) return t.skip("musl-gcc is not installed (Debian package musl-tools)");
    const addrs = async (name: string) => {
      const r = await inPod(musl!, ["addrs", name]);
      return { code: r.code, out: r.out, addrs: uniqueSorted(r.out) };
    };
    assert.deepEqual((await addrs("web")).addrs, ["10.96.0.10", "fd00::10"]);
    assert.deepEqual((await addrs("www.example.test.")).addrs, ["192.0.2.1", "2001:db8::1"]);
    const nx = await addrs("nothing.example.test");
    assert.equal(nx.code, 1);
    assert.match(nx.out.join(" "), /^ERR /);
    const many = await addrs("many.example.test.");
    assert.equal(many.code, 0, many.out.join("\n"));
    assert.ok(many.addrs.length >= 25, `musl got ${many.addrs.length} addresses`);
    for (const a of many.addrs) assert.ok(manyAddresses.includes(a), a);
    t.diagnostic(`musl: ${many.addrs.length} of ${MANY} addresses from the truncated UDP answer`);
    assert.deepEqual((await inPod(musl!, ["ptr", "10.96.0.10"])).out, ["web.default.svc.cluster.local"]);
  });

  test("Go pure resolver (net.Resolver{PreferGo: true}): names, SRV, PTR, NXDOMAIN, 60 records", async (t) => {
    if (go === null) return t.skip("go is not installed (Debian package golang-go)");
    const lines = async (op: string, name: string) => (await inPod(go!, [op, name])).out;
    assert.deepEqual(uniqueSorted(await lines("addrs", "web")), ["10.96.0.10", "fd00::10"]);
    assert.deepEqual(uniqueSorted(await lines("addrs", "www.example.test.")), ["192.0.2.1", "2001:db8::1"]);
    assert.deepEqual(await lines("addrs", "nothing.example.test"), ["NOTFOUND"]);
    assert.deepEqual(uniqueSorted(await lines("addrs", "many.example.test.")), manyAddresses);
    assert.deepEqual(await lines("srv", "_http._tcp.web.default.svc.cluster.local."), [
      "web.default.svc.cluster.local. 80",
    ]);
    assert.deepEqual(await lines("ptr", "10.96.0.10"), ["web.default.svc.cluster.local."]);
  });

  test("c-ares (Node's dns.Resolver): A, AAAA, SRV, PTR, NXDOMAIN, 60 records", async () => {
    const cares = async (op: string, name: string) =>
      (await inPod(process.execPath, ["-e", CARES_SCRIPT, op, name])).out;
    assert.deepEqual(await cares("a", "web.default.svc.cluster.local"), ["10.96.0.10"]);
    assert.deepEqual(await cares("aaaa", "www.example.test"), ["2001:db8::1"]);
    assert.deepEqual(await cares("srv", "_http._tcp.web.default.svc.cluster.local"), [
      "web.default.svc.cluster.local 80",
    ]);
    assert.deepEqual(await cares("ptr", "10.96.0.10"), ["web.default.svc.cluster.local"]);
    assert.deepEqual(await cares("a", "nothing.example.test"), ["NOTFOUND"]);
    assert.deepEqual(uniqueSorted(await cares("a", "many.example.test")), manyAddresses);
  });

  for (const tool of ["dig", "kdig"] as const) {
    test(`${tool}: A, AAAA, SRV, PTR, NXDOMAIN, 60 records (TC then TCP)`, async () => {
      const ask = async (name: string, type: string, extra: string[] = []) => {
        const r = await inPod(tool, ["@127.0.0.1", "+short", ...extra, name, type]);
        return r.out.filter((l) => !l.startsWith(";"));
      };
      assert.deepEqual(await ask("web.default.svc.cluster.local", "A"), ["10.96.0.10"]);
      assert.deepEqual(await ask("www.example.test", "AAAA"), ["2001:db8::1"]);
      assert.deepEqual(await ask("_http._tcp.web.default.svc.cluster.local", "SRV"), [
        "0 100 80 web.default.svc.cluster.local.",
      ]);
      assert.deepEqual(await ask("10.0.96.10.in-addr.arpa", "PTR"), ["web.default.svc.cluster.local."]);
      const nx = await inPod(tool, ["@127.0.0.1", "nothing.example.test", "A"]);
      assert.match(nx.out.join("\n"), /status: NXDOMAIN|NXDOMAIN/);
      // Without EDNS the 60 records exceed 512 bytes: TC=1, and the tool retries over TCP.
      const noEdns = tool === "dig" ? ["+noedns"] : ["+noedns"];
      assert.deepEqual(uniqueSorted(await ask("many.example.test", "A", noEdns)), manyAddresses);
    });
  }

  test("dig with the pod's search list resolves a short name", async () => {
    const r = await inPod("dig", ["+search", "+short", "web", "A"]);
    assert.deepEqual(r.out, ["10.96.0.10"]);
    assert.equal(daemon.isRunning(), true);
  });
});
