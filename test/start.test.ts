// `npm start` with no arguments: the built-in default serves 127.0.0.1:10053, forwards to the
// nameservers of resolv.conf (a fixture here, never this machine's), metrics on 127.0.0.1:9253.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  cleanupAll,
  daemonEntry,
  dig,
  soaRecord,
  spawnProc,
  startUnbound,
  tempDir,
  uniqueLoopback,
  waitForDns,
} from "./support/index.ts";

after(cleanupAll);

test("with no flags it serves the built-in default", {
  skip: process.getuid?.() !== 0 ? "needs root (the fixture upstream binds port 53)" : false,
}, async () => {
  const upstream = await startUnbound({
    host: uniqueLoopback(),
    port: 53,
    records: [soaRecord("default.test"), "www.default.test. 300 IN A 192.0.2.80"],
  });
  const dir = await tempDir("nldns-start-");
  const resolvConf = join(dir, "resolv.conf");
  await writeFile(resolvConf, `# fixture\nsearch example.internal\nnameserver ${upstream.host}\n`);
  const proc = spawnProc(process.execPath, [daemonEntry()], {
    env: { NODELOCALDNS_RESOLV_CONF: resolvConf },
    label: "daemon",
  });
  after(() => proc.stop());
  const server = { host: "127.0.0.1", port: 10053 };
  await waitForDns(server, 10_000, proc.isRunning);
  const line = await proc.waitForLine(/serving/);
  assert.match(line, /127\.0\.0\.1/);
  assert.match(line, /10053/);
  assert.match(line, new RegExp(`${upstream.host.replaceAll(".", "\\.")}:53`));
  const udp = await dig(server, "www.default.test");
  assert.equal(udp.answer[0]?.data, "192.0.2.80");
  const tcp = await dig(server, "www.default.test", "A", { tcp: true });
  assert.equal(tcp.answer[0]?.data, "192.0.2.80");
  assert.ok(tcp.answer[0]!.ttl <= 30, "cache 30 caps the TTL");
  const metrics = await (await fetch("http://127.0.0.1:9253/metrics")).text();
  assert.match(metrics, /coredns_dns_requests_total\{server="dns:\/\/127\.0\.0\.1:10053"/);
  const exit = await proc.stop("SIGTERM");
  assert.equal(exit.code, 0, "SIGTERM exits 0");
});

test("a bad Corefile stops start-up with file, line and what was expected", async () => {
  const dir = await tempDir("nldns-bad-");
  const file = join(dir, "Corefile");
  await writeFile(file, ".:10054 {\n    cache {\n        success abc\n    }\n}\n");
  const proc = spawnProc(process.execPath, [daemonEntry(), "-conf", file], { label: "daemon" });
  const exit = await proc.exited;
  assert.equal(exit.code, 1);
  assert.match(proc.output(), new RegExp(`${file.replaceAll("/", "\\/")}:3: cache`));
});

test("an unknown flag exits 1 with usage", async () => {
  const proc = spawnProc(process.execPath, [daemonEntry(), "-nosuchflag"], { label: "daemon" });
  const exit = await proc.exited;
  assert.equal(exit.code, 1);
  assert.match(proc.output(), /flag provided but not defined: -nosuchflag/);
  assert.match(proc.output(), /Usage/);
});
