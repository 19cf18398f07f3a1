// The listener's UDP socket, both ways it can be built: batched through the native addon
// (recvmmsg/sendmmsg, packets read in place) and node:dgram. Both must give the same addresses,
// errors and replies; the batched one must really batch, drop what does not fit a slot, and let a
// reply leave after its batch is over.

import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { after, test } from "node:test";
import { openUdp, type UdpEndpoint, udpIo } from "../src/udp/index.ts";
import { cleanupAll, encodeQuery, freePort, startDaemon, uniqueLoopback } from "./support/index.ts";

after(cleanupAll);

const KINDS = ["batched", "dgram"] as const;
const envOf = (kind: string) => ({ NLD_UDP_IO: kind });

async function client(type: "udp4" | "udp6", host: string): Promise<Socket> {
  const socket = createSocket(type);
  await new Promise<void>((r) => socket.bind(0, host, r));
  return socket;
}

function collect(socket: Socket, count: number, timeoutMs = 5000): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(got), timeoutMs);
    socket.on("message", (m) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

test("the batched path is what the build gives (the addon compiled and loads)", () => {
  assert.deepEqual(udpIo({}), { kind: "batched", reason: "" });
  assert.equal(udpIo({ NLD_UDP_IO: "dgram" }).kind, "dgram");
  const odd = udpIo({ NLD_UDP_IO: "fast" });
  assert.equal(odd.kind, "dgram");
  assert.match(odd.reason, /NLD_UDP_IO=fast is not one of batched, dgram/);
});

for (const kind of KINDS) {
  test(`${kind}: replies during the handler and after it each reach their own sender`, async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const seen: { address: string; slot: number }[] = [];
    let endpoint: UdpEndpoint | null = null;
    endpoint = await openUdp(
      { host, port, reusePort: false, bufferBytes: 1 << 20 },
      (packet, address, fromPort, slot) => {
        seen.push({ address, slot });
        const text = packet.toString();
        const reply = Buffer.from(`re:${text}`);
        if (text.endsWith("later")) {
          // After the batch: the slot is gone, so the reply goes by address (and the packet was copied).
          const kept = Buffer.from(reply);
          setTimeout(() => endpoint?.reply(kept, fromPort, address, -1), 5);
        } else endpoint?.reply(reply, fromPort, address, slot);
      },
      envOf(kind),
    );
    assert.equal(endpoint.kind, kind);
    const clients = await Promise.all(Array.from({ length: 6 }, () => client("udp4", "127.0.0.1")));
    const PER_CLIENT = 40;
    const replies = clients.map((c) => collect(c, PER_CLIENT));
    // All sent before the loop turns: the batched socket finds many datagrams waiting at once.
    clients.forEach((c, ci) => {
      for (let i = 0; i < PER_CLIENT; i++) c.send(`c${ci}-${i}-${i % 2 === 0 ? "now" : "later"}`, port, host);
    });
    const results = await Promise.all(replies);
    results.forEach((got, ci) => {
      const texts = got.map((m) => m.toString()).sort();
      const want = Array.from(
        { length: PER_CLIENT },
        (_, i) => `re:c${ci}-${i}-${i % 2 === 0 ? "now" : "later"}`,
      ).sort();
      assert.deepEqual(texts, want, `client ${ci}`);
    });
    assert.ok(seen.every((s) => s.address === "127.0.0.1"));
    if (kind === "batched") {
      assert.ok(Math.max(...seen.map((s) => s.slot)) > 0, "datagrams waiting together arrive in one batch");
      assert.equal(endpoint.borrowsPackets, true);
    } else assert.ok(seen.every((s) => s.slot === -1));
    for (const c of clients) c.close();
    await endpoint.close();
  });

  test(`${kind}: IPv6, and IPv4 clients of a dual-stack socket, get the addresses dgram reports`, async () => {
    const port6 = await freePort("::1");
    const seen: string[] = [];
    const on6 = await openUdp(
      { host: "::1", port: port6, reusePort: false, bufferBytes: 0 },
      (packet, address, fromPort, slot) => {
        seen.push(address);
        on6.reply(packet, fromPort, address, slot);
      },
      envOf(kind),
    );
    const c6 = await client("udp6", "::1");
    const got6 = collect(c6, 1);
    c6.send("six", port6, "::1");
    assert.equal((await got6)[0]?.toString(), "six");
    await on6.close();
    c6.close();

    const port = await freePort("127.0.0.1");
    const both = await openUdp(
      { host: "::", port, reusePort: false, bufferBytes: 0 },
      (packet, address, fromPort) => {
        seen.push(address);
        both.reply(packet, fromPort, address, -1); // by address: a mapped IPv4 literal must work
      },
      envOf(kind),
    );
    const c4 = await client("udp4", "127.0.0.1");
    const got4 = collect(c4, 1);
    c4.send("four", port, "127.0.0.1");
    assert.equal((await got4)[0]?.toString(), "four");
    assert.deepEqual(seen, ["::1", "::ffff:127.0.0.1"]);
    c4.close();
    await both.close();
  });

  test(`${kind}: a port in use is EADDRINUSE unless both ask for SO_REUSEPORT; close frees it`, async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const options = { host, port, reusePort: false, bufferBytes: 0 };
    const first = await openUdp(options, () => {}, envOf(kind));
    await assert.rejects(
      openUdp(options, () => {}, envOf(kind)),
      { code: "EADDRINUSE" },
    );
    await first.close();
    const again = await openUdp(options, () => {}, envOf(kind));
    await again.close();
    const shared = { ...options, reusePort: true };
    const a = await openUdp(shared, () => {}, envOf(kind));
    const b = await openUdp(shared, () => {}, envOf(kind));
    await a.close();
    await b.close();
  });
}

test("batched: a datagram larger than a slot is dropped; the ones around it are answered", async () => {
  const host = uniqueLoopback();
  const port = await freePort(host);
  const sizes: number[] = [];
  const endpoint = await openUdp(
    { host, port, reusePort: false, bufferBytes: 1 << 20 },
    (packet, address, fromPort, slot) => {
      sizes.push(packet.length);
      endpoint.reply(packet.subarray(0, 4), fromPort, address, slot);
    },
    envOf("batched"),
  );
  const c = await client("udp4", "127.0.0.1");
  const got = collect(c, 2, 2000);
  c.send(Buffer.alloc(100, 1), port, host);
  c.send(Buffer.alloc(9000, 2), port, host);
  c.send(Buffer.alloc(200, 3), port, host);
  const replies = await got;
  assert.deepEqual(sizes, [100, 200]);
  assert.deepEqual(
    replies.map((r) => r[0]),
    [1, 3],
  );
  c.close();
  await endpoint.close();
});

for (const kind of KINDS) {
  test(`daemon with NLD_UDP_IO=${kind}: says which path it uses and answers`, async () => {
    const host = uniqueLoopback();
    const port = await freePort(host);
    const daemon = await startDaemon({
      corefile: `.:${port} {
    bind ${host}
    template IN A io.test {
        answer "{{ .Name }} 60 IN A 192.0.2.9"
    }
}
`,
      env: { ...process.env, NLD_UDP_IO: kind } as Record<string, string>,
      readyProbe: { host, port },
    });
    const c = await client("udp4", "127.0.0.1");
    const got = collect(c, 1);
    c.send(encodeQuery("a.io.test", "A", { id: 4242 }), port, host);
    const [reply] = await got;
    assert.ok(reply !== undefined, "answered");
    assert.equal(reply.readUInt16BE(0), 4242);
    c.close();
    const serving = daemon
      .output()
      .split("\n")
      .find((l) => l.includes('"msg":"serving'));
    assert.ok(serving?.includes(`"udp":"${kind}"`), serving);
    if (kind === "dgram")
      assert.match(daemon.output(), /UDP through node:dgram \(slower\): NLD_UDP_IO=dgram/);
  });
}
