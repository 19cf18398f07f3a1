// The cache reuses one flight (and the listener one query object) for misses the chain answers
// before the cache's next() returns (here `template`), and registers a flight for coalescing only
// when it still waits (here `forward`). Interleaving both from one socket must still give every
// client its own answer, and identical forwarded misses must still reach the upstream once.

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, test } from "node:test";
import dnsPacket from "dns-packet";
import {
  cleanupAll,
  encodeQuery,
  freePort,
  startDaemon,
  startUnbound,
  uniqueLoopback,
} from "./support/index.ts";

after(cleanupAll);

const FORWARDED = 100;

test("interleaved synchronous (template) and forwarded misses: each reply matches its query; identical misses coalesce", async () => {
  const upstream = await startUnbound({
    host: uniqueLoopback(),
    records: [
      ...Array.from({ length: FORWARDED }, (_, i) => `f${i}.fwd.test. 300 IN A 192.0.2.${i + 1}`),
      "same.fwd.test. 300 IN A 198.51.100.7",
    ],
    zones: [{ name: "fwd.test.", type: "static" }],
  });
  const host = uniqueLoopback();
  const port = await freePort(host);
  await startDaemon({
    corefile: `.:${port} {
    bind ${host}
    cache 30
    template IN A sync.test {
        match "^s(\\d+)\\.sync\\.test\\.$"
        answer "{{ .Name }} 60 IN A 10.7.0.{{ index .Match 1 }}"
    }
    forward . ${upstream.host}:${upstream.port}
}
`,
    readyProbe: { host, port },
  });
  await upstream.clearQueryLog();

  // id -> [question name, expected address]
  const expected = new Map<number, [string, string]>();
  let id = 1;
  for (let i = 0; i < FORWARDED; i++) {
    expected.set(id++, [`s${i + 2}.sync.test`, `10.7.0.${i + 2}`]);
    expected.set(id++, [`f${i}.fwd.test`, `192.0.2.${i + 1}`]);
    expected.set(id++, ["same.fwd.test", "198.51.100.7"]);
  }
  const socket = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  await new Promise<void>((r) => socket.bind(0, host, r));
  const wrong: string[] = [];
  const answered = new Set<number>();
  const done = new Promise<void>((resolve) => {
    socket.on("message", (msg) => {
      const reply = dnsPacket.decode(msg);
      const want = expected.get(reply.id ?? -1);
      const got = reply.answers?.find((a) => a.type === "A") as { data?: unknown } | undefined;
      if (want === undefined) wrong.push(`unexpected id ${reply.id}`);
      else if (reply.questions?.[0]?.name !== want[0] || got?.data !== want[1])
        wrong.push(`id ${reply.id}: asked ${want[0]} got ${reply.questions?.[0]?.name} ${got?.data}`);
      answered.add(reply.id ?? -1);
      if (answered.size === expected.size) resolve();
    });
  });
  for (const [qid, [name]] of expected) socket.send(encodeQuery(name, "A", { id: qid }), port, host);
  // Done once all are answered; 30 s is a margin for a busy node, not an expected time.
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000).unref())]);
  socket.close();
  assert.deepEqual(wrong, []);
  assert.equal(answered.size, expected.size, "every query answered");
  assert.equal(await upstream.queryCount("same.fwd.test"), 1, "identical forwarded misses coalesce");
  assert.equal(await upstream.queryCount("s2.sync.test"), 0, "template answers never reach the upstream");
});
