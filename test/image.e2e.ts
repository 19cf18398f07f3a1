// The container image (`npm run test:image`, not part of `npm test`): built from the project's
// Dockerfile with Debian's podman (scripts/image/build.sh: a local mmdebstrap base, Node.js from the
// npm registry), then run the way the drop-in DaemonSet runs it: its args, the ConfigMap's Corefile as
// /etc/coredns/Corefile.base, NET_ADMIN, the host network played by a network namespace made here,
// with kube-dns (kube-dns-upstream) and the node's resolver as unbound inside that namespace.
// Checks DNS through 169.254.20.10 and the kube-dns address, /health, both metrics ports, the
// interface and rules, and that SIGTERM exits 0 and removes them. Reports size and idle RSS.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { SHIPPED_ENV, SHIPPED_NODE_FLAGS } from "../bench/setup.ts";
import type { Netns } from "./fixtures/netif-runner.ts";
import { digIn, scopedNetns, until } from "./fixtures/netns-daemon.ts";
import { cleanupAll, PROJECT_ROOT, type Proc, spawnProc, tempDir } from "./support/index.ts";
import { UNBOUND, unboundConfig } from "./support/unbound.ts";

const TAG = "localhost/nodelocaldns:test";
const CONTAINER = `nodelocaldns-image-test-${process.pid}`;
const LOCAL_DNS = "169.254.20.10";
const KUBE_DNS = "10.96.0.10"; // kube-dns's ClusterIP: iptables mode binds it too
const KUBE_DNS_UPSTREAM = "10.96.0.11"; // kube-dns-upstream's ClusterIP, where cluster names go
const NODE_RESOLVER = "10.0.0.53"; // the node's /etc/resolv.conf nameserver
const DOMAIN = "cluster.local";
const NODECACHE = "NodeLocal DNS Cache";
const PODMAN_FLAGS = execFileSync("sh", [join(PROJECT_ROOT, "scripts/image/podman-flags.sh")], {
  encoding: "utf8",
})
  .trim()
  .split(/\s+/);

after(async () => {
  execFileSync("podman", ["rm", "-f", "-i", CONTAINER], { stdio: "ignore" });
  await cleanupAll();
});

function podman(args: string[]): string {
  return execFileSync("podman", args, { encoding: "utf8", maxBuffer: 64 << 20 });
}

/** The drop-in DaemonSet's manifest: the ConfigMap's Corefile and the container, pillars filled in. */
function dropIn() {
  const fill = (s: string) =>
    s
      .replaceAll("__PILLAR__LOCAL__DNS__", LOCAL_DNS)
      .replaceAll("__PILLAR__DNS__DOMAIN__", DOMAIN)
      .replaceAll("__PILLAR__DNS__SERVER__", KUBE_DNS);
  const docs = parseAllDocuments(
    readFileSync(join(PROJECT_ROOT, "daemonset/dropin/nodelocaldns.yaml"), "utf8"),
  )
    // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data
    .map((d) => d.toJS() as any);
  const corefile = docs.find((d) => d.kind === "ConfigMap").data.Corefile as string;
  const container = docs.find((d) => d.kind === "DaemonSet").spec.template.spec.containers[0];
  return {
    corefile: fill(corefile),
    args: (container.args as string[]).map(fill),
    caps: container.securityContext.capabilities.add as string[],
  };
}

async function unboundIn(ns: Netns, host: string, records: string[], zones: string[]): Promise<Proc> {
  const dir = await tempDir("nldns-imgunbound-");
  const config = unboundConfig({
    host,
    port: 53,
    dir,
    logFile: join(dir, "unbound.log"),
    records,
    zones: zones.map((name) => ({ name, type: "static" as const })),
    // Clients are the container's addresses in the namespace, not loopback.
    extraConfig: "  access-control: 0.0.0.0/0 allow",
  });
  writeFileSync(join(dir, "unbound.conf"), config);
  const p = spawnProc("ip", ["netns", "exec", ns.name, UNBOUND, "-d", "-c", join(dir, "unbound.conf")], {
    cwd: dir,
    label: `unbound ${host}`,
  });
  const probe = records[0]!.split(" ")[0]!;
  await until(`unbound on ${host}`, async () => (await digIn(ns, host, probe)) !== "", 20_000);
  return p;
}

/** GET from inside the namespace (with this Node: no curl needed). */
async function httpIn(ns: Netns, url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() }))).catch((e) => console.log(JSON.stringify({ status: 0, body: String(e) })))`;
  return JSON.parse(await ns.run(process.execPath, ["-e", script]));
}

/** Every address on every link in the namespace. */
async function addresses(ns: Netns): Promise<string[]> {
  const links = JSON.parse(await ns.run("ip", ["-j", "addr", "show"])) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}`));
}

/** node-cache's rules in the namespace, whichever iptables back end the image's wrapper chose. */
async function ourRules(ns: Netns): Promise<string[]> {
  const lines: string[] = [];
  for (const save of [
    "iptables-nft-save",
    "iptables-legacy-save",
    "ip6tables-nft-save",
    "ip6tables-legacy-save",
  ]) {
    const r = await ns.exec(save, []);
    lines.push(...r.stdout.split("\n").filter((l) => l.includes(NODECACHE)));
  }
  return lines;
}

/** The container's node process (the one child of tini, PID 1 in the container). */
function nodePid(): number {
  const tini = podman(["inspect", "-f", "{{.State.Pid}}", CONTAINER]).trim();
  const children = readFileSync(`/proc/${tini}/task/${tini}/children`, "utf8").trim().split(/\s+/);
  assert.equal(children.length, 1, `tini ${tini}'s children: ${children.join(" ")}`);
  const cmdline = readFileSync(`/proc/${children[0]}/cmdline`, "utf8").split("\0");
  assert.deepEqual(cmdline.slice(0, 2 + SHIPPED_NODE_FLAGS.length), [
    "node",
    ...SHIPPED_NODE_FLAGS,
    "/app/dist/main.js",
  ]);
  const environ = readFileSync(`/proc/${children[0]}/environ`, "utf8").split("\0");
  for (const kv of SHIPPED_ENV)
    assert.ok(environ.includes(kv), `the container's node has ${kv} in its environment`);
  return Number(children[0]);
}

function statusKib(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]);
}

describe("container image", {
  skip: process.getuid?.() !== 0 ? "needs root (podman, network namespaces)" : false,
}, () => {
  before(() => {
    const started = Date.now();
    execFileSync("sh", [join(PROJECT_ROOT, "scripts/image/build.sh"), TAG], { stdio: "inherit" });
    console.log(`# image built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });

  test("small, Node from package-lock's `node`, no compiler, no npm", (t) => {
    const bytes = Number(podman(["image", "inspect", "-f", "{{.Size}}", TAG]).trim());
    const gz = Number(
      execFileSync("sh", ["-c", `podman save ${TAG} | gzip -6 | wc -c`], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    );
    t.diagnostic(
      `image size: ${(bytes / 1e6).toFixed(1)} MB, ${(gz / 1e6).toFixed(1)} MB compressed (podman save | gzip -6)`,
    );
    // 281 MB when this was written, 126 MB of it the node binary: a guard against growth.
    assert.ok(bytes < 300e6, `${bytes} bytes`);
    const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    const inside = podman([
      "run",
      "--rm",
      ...PODMAN_FLAGS,
      "--network",
      "none",
      "--entrypoint",
      "sh",
      TAG,
      "-c",
      "node --version; for c in npm npx corepack gcc cc c++ make tsc; do command -v $c || true; done; ls /app/node_modules",
    ]).split("\n");
    assert.equal(inside[0], `v${lock.packages["node_modules/node"].version}`);
    const modules = inside.slice(1).filter((l) => l !== "");
    assert.ok(!modules.some((l) => l.startsWith("/")), `no toolchain in the image: ${modules.join(" ")}`);
    for (const dev of ["typescript", "@biomejs", "node", "fast-check"])
      assert.ok(!modules.includes(dev), dev);
    assert.ok(modules.includes("dns-packet"));
  });

  test("runs as the drop-in DaemonSet runs it: DNS, health, metrics, rules; SIGTERM exits 0 and cleans up", async (t) => {
    const ns = await scopedNetns("nld-image");
    for (const a of [KUBE_DNS_UPSTREAM, NODE_RESOLVER])
      await ns.run("ip", ["addr", "add", `${a}/32`, "dev", "lo"]);
    await unboundIn(
      ns,
      KUBE_DNS_UPSTREAM,
      [
        `kubernetes.default.svc.${DOMAIN}. 5 IN A 10.96.0.1`,
        `10.0.96.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.${DOMAIN}.`,
      ],
      [`${DOMAIN}.`, "10.in-addr.arpa."],
    );
    await unboundIn(ns, NODE_RESOLVER, ["a.example.test. 300 IN A 10.1.2.3"], ["example.test."]);

    const { corefile, args, caps } = dropIn();
    const dir = await tempDir("nldns-image-");
    mkdirSync(join(dir, "coredns"));
    mkdirSync(join(dir, "kube-dns")); // the optional kube-dns ConfigMap, absent: an empty volume
    writeFileSync(join(dir, "coredns", "Corefile.base"), corefile);
    // dnsPolicy: Default — the node's resolv.conf, here the namespace's resolver (never the machine's).
    writeFileSync(join(dir, "resolv.conf"), `nameserver ${NODE_RESOLVER}\n`);
    podman([
      "run",
      "-d",
      "--name",
      CONTAINER,
      ...PODMAN_FLAGS,
      "--network",
      `ns:/run/netns/${ns.name}`,
      ...caps.flatMap((c) => ["--cap-add", c]),
      "-e",
      `KUBE_DNS_UPSTREAM_SERVICE_HOST=${KUBE_DNS_UPSTREAM}`,
      "-e",
      "KUBE_DNS_UPSTREAM_SERVICE_PORT=53",
      "-v",
      `${dir}/resolv.conf:/etc/resolv.conf:ro`,
      "-v",
      "/run/xtables.lock:/run/xtables.lock",
      "-v",
      `${dir}/coredns:/etc/coredns:ro`,
      "-v",
      `${dir}/kube-dns:/etc/kube-dns:ro`,
      TAG,
      ...args,
    ]);
    const logs = () => podman(["logs", CONTAINER]);
    try {
      await until(
        "DNS on 169.254.20.10",
        async () => (await digIn(ns, LOCAL_DNS, "a.example.test")) === "10.1.2.3",
        60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    }
    // The node's upstream (resolv.conf) and kube-dns (force_tcp), through both addresses, UDP and TCP.
    for (const server of [LOCAL_DNS, KUBE_DNS]) {
      for (const tcp of [false, true]) {
        assert.equal(await digIn(ns, server, "a.example.test", tcp), "10.1.2.3", `${server} tcp=${tcp}`);
        assert.equal(await digIn(ns, server, `kubernetes.default.svc.${DOMAIN}`, tcp), "10.96.0.1");
      }
    }
    // The image carries the compiled addon: UDP is batched, not the dgram fallback. ("serving" is
    // logged last, after DNS already answers, and podman's log file may lag behind.)
    const servingLine = /"udp":"(\w+)","msg":"serving/;
    await until("the serving line", async () => servingLine.test(logs()), 10_000);
    assert.equal(servingLine.exec(logs())?.[1], "batched", logs());
    const ptr = await ns.exec("dig", [`@${LOCAL_DNS}`, "+short", "+time=2", "+tries=1", "-x", KUBE_DNS]);
    assert.equal(ptr.stdout.trim(), `kube-dns.kube-system.svc.${DOMAIN}.`);

    const health = await httpIn(ns, `http://${LOCAL_DNS}:8080/health`);
    assert.equal(health.status, 200, health.body);
    const metrics = await httpIn(ns, `http://${LOCAL_DNS}:9253/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^coredns_dns_requests_total\{/m);
    const nodecache = await httpIn(ns, "http://127.0.0.1:9353/metrics");
    assert.equal(nodecache.status, 200);
    assert.match(nodecache.body, /^# TYPE coredns_nodecache_setup_errors_total counter/m);

    const addrs = await addresses(ns);
    for (const a of [LOCAL_DNS, KUBE_DNS])
      assert.ok(
        addrs.some((l) => l.endsWith(` ${a}`)),
        `${a}: ${addrs}`,
      );
    const rules = await ourRules(ns);
    assert.ok(rules.length >= 12 * 2, `node-cache's rules for both addresses:\n${rules.join("\n")}`);

    // Idle: no queries for a few seconds, then the resident set of the node process.
    await new Promise((r) => setTimeout(r, 5000));
    const pid = nodePid();
    t.diagnostic(
      `idle container: node VmRSS ${(statusKib(pid, "VmRSS") / 1024).toFixed(1)} MiB, RssAnon ${(statusKib(pid, "RssAnon") / 1024).toFixed(1)} MiB`,
    );

    podman(["kill", "--signal", "TERM", CONTAINER]);
    const code = podman(["wait", CONTAINER]).trim();
    assert.equal(code, "0", logs());
    assert.match(logs(), /SIGTERM/);
    assert.deepEqual(await ourRules(ns), [], "rules removed");
    const left = await addresses(ns);
    for (const a of [LOCAL_DNS, KUBE_DNS])
      assert.ok(!left.some((l) => l.endsWith(` ${a}`)), `${a} removed: ${left}`);
    assert.ok(!left.some((l) => l.startsWith("nodelocaldns ")), "interface removed");
  });
});
