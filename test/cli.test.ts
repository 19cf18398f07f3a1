// The command line end to end on the real binary: node-cache's flags, -version/-help, unknown flags,
// -conf alone, the node-cache metrics listener, and start-up refusals with precise messages.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  cleanupAll,
  daemonEntry,
  dig,
  freePort,
  startDaemon,
  tempDir,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [daemonEntry(), ...args],
      { timeout: 15_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function metricsText(address: string): Promise<string> {
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe("flags", () => {
  test("-version and --version print the version and exit 0", async () => {
    for (const flag of ["-version", "--version"]) {
      const r = await run([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^nodelocaldns \S+ \(node v?24\./);
    }
  });

  test("-help lists every node-cache flag with its default", async () => {
    const r = await run(["-help"]);
    assert.equal(r.code, 0);
    for (const f of [
      "-localip",
      "-conf",
      "-basecorefile",
      "/etc/coredns/Corefile.base",
      "-upstreamsvc",
      "-kubednscm",
      "/etc/kube-dns",
      "-setupinterface",
      "-interfacename",
      "-setupiptables",
      "-skipteardown",
      "-syncinterval",
      "-health-port",
      "-metrics-listen-address",
      "0.0.0.0:9353",
      "-pidfile",
      "-dns.port",
    ]) {
      assert.ok(r.stdout.includes(f), `usage lacks ${f}`);
    }
  });

  test("an unknown flag exits 1 with a usage message", async () => {
    const r = await run(["-localip", "169.254.20.10", "-bogus"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /flag provided but not defined: -bogus/);
    assert.match(r.stderr, /Usage: nodelocaldns/);
  });

  test("bad values are refused before anything starts", async () => {
    const bad = await run(["-localip", "169.254.20.10,notanip"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid localip specified - "notanip"/);
    const port = await run(["-dns.port", "seventy"]);
    assert.equal(port.code, 1);
    assert.match(port.stderr, /-dns\.port/);
    const dur = await run(["-syncinterval", "often"]);
    assert.equal(dur.code, 1);
    assert.match(dur.stderr, /-syncinterval/);
  });
});

describe("running", () => {
  test("-conf FILE alone runs FILE (no base file), writes -pidfile, serves node-cache metrics", async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const mport = await freePort("127.0.0.1");
    const dir = await tempDir("nldns-cli-");
    const pidfile = join(dir, "pid");
    const corefile = `example.test:${port} {\n  bind ${host}\n  errors\n}\n`;
    const d = await startDaemon({
      corefile,
      args: ["-pidfile", pidfile, "-metrics-listen-address", `127.0.0.1:${mport}`],
      readyProbe: { host, port },
    });
    assert.equal((await readFile(pidfile, "utf8")).trim(), String(d.pid));
    // No chain plugin answers: SERVFAIL for the zone, REFUSED outside it.
    assert.equal((await dig({ host, port }, "a.example.test", "A")).rcode, "SERVFAIL");
    assert.equal((await dig({ host, port }, "a.other.test", "A")).rcode, "REFUSED");
    // The Corefile was left untouched.
    assert.equal(await readFile(d.corefilePath, "utf8"), corefile);
    assert.match(d.output(), /no base Corefile at \/etc\/coredns\/Corefile\.base; serving/);
    const text = await metricsText(`127.0.0.1:${mport}`);
    for (const t of ["iptables", "iptables_lock", "interface_add", "interface_check", "configmap"]) {
      assert.match(text, new RegExp(`coredns_nodecache_setup_errors_total\\{errortype="${t}"\\} 0\\n`));
    }
    assert.match(text, /coredns_reload_version_info\{hash="sha512",value="[0-9a-f]{128}"\} 1/);
    assert.equal((await fetch(`http://127.0.0.1:${mport}/other`)).status, 404);
    const exit = await d.stop();
    assert.equal(exit.code, 0);
  });

  test("a base file needing $<UPSTREAMSVC>_SERVICE_HOST without it set: exit 1 naming the variable", async () => {
    const dir = await tempDir("nldns-cli-");
    const base = join(dir, "Corefile.base");
    await writeFile(base, ".:53 {\n    forward . __PILLAR__CLUSTER__DNS__\n}\n");
    const env = { ...process.env } as Record<string, string>;
    delete env.KUBE_DNS_UPSTREAM_SERVICE_HOST;
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          daemonEntry(),
          "-localip",
          "127.0.0.1",
          "-conf",
          join(dir, "Corefile"),
          "-basecorefile",
          base,
          "-upstreamsvc",
          "kube-dns-upstream",
          "-setupinterface=false",
          "-setupiptables=false",
        ],
        { timeout: 15_000, env },
        (err, _o, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr }),
      ),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\$KUBE_DNS_UPSTREAM_SERVICE_HOST is not set/);
  });

  test("a Corefile error exits 1 with file:line", async () => {
    const dir = await tempDir("nldns-cli-");
    const conf = join(dir, "Corefile");
    await writeFile(conf, ".:15353 {\n    forwrad . 127.0.0.1\n}\n");
    const r = await run(["-conf", conf, "-metrics-listen-address", "127.0.0.1:0"]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${conf}:2:`), r.stderr);
  });
});
