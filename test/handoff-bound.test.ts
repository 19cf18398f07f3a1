// The kernel's view of who has our addresses bound: what decides whether SIGTERM waits for a slow
// successor. A real socket of this process is ours; one of a child process is another's.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { after, test } from "node:test";
import { otherSocketBound, procAddress } from "../src/server/handoff.ts";
import { freePort, uniqueLoopback } from "./support/index.ts";

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

test("procAddress writes addresses as /proc/net/udp{,6} do", () => {
  assert.equal(procAddress("127.0.0.1", 53), "0100007F:0035");
  assert.equal(procAddress("169.254.20.10", 53), "0A14FEA9:0035");
  assert.equal(procAddress("0.0.0.0", 8053), "00000000:1F75");
  assert.equal(procAddress("::1", 53), "00000000000000000000000001000000:0035");
  assert.equal(procAddress("::", 53), "00000000000000000000000000000000:0035");
  assert.equal(procAddress("fd00::a", 53), "000000FD00000000000000000A000000:0035");
  assert.equal(procAddress("not-an-ip", 53), null);
});

test("our own socket is not another's; a child process's socket on the address is", async () => {
  const host = uniqueLoopback();
  const port = await freePort(host);
  const own = dgram.createSocket({ type: "udp4", reusePort: true });
  await new Promise<void>((resolve) => own.bind(port, host, resolve));
  cleanups.push(() => own.close());
  assert.equal(await otherSocketBound([{ host, port }]), false, "only our socket is bound");
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:dgram").createSocket({ type: "udp4", reusePort: true });
       s.bind(${port}, "${host}", () => console.log("bound"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  cleanups.push(() => child.kill("SIGKILL"));
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  assert.equal(await otherSocketBound([{ host, port }]), true, "the child's socket shares the address");
  assert.equal(
    await otherSocketBound([{ host, port }], undefined, [child.pid!]),
    false,
    "a sibling worker's socket (its pid given) is not a successor's",
  );
  assert.equal(
    await otherSocketBound([{ host, port: port === 65535 ? 1 : port + 1 }]),
    false,
    "another port",
  );
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  assert.equal(await otherSocketBound([{ host, port }]), false, "gone with the child");
});

test("an unreadable socket table counts as bound (the caller probes as if a successor might be there)", async () => {
  const table = {
    udpTables: () => Promise.reject(new Error("no /proc")),
    ownInodes: () => Promise.resolve(new Set<string>()),
  };
  assert.equal(await otherSocketBound([{ host: "127.0.0.1", port: 53 }], table), true);
});
