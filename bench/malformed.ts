// 10^6 malformed UDP datagrams at a server, from a fixed seed: too short for a header, a header
// and nothing, labels running past the end, compression pointers in the question (and loops),
// missing type and class, bogus section counts, non-QUERY opcodes, and random bytes. Nothing is
// awaited but the socket's own send queue, so the server sees them about as fast as it reads.

import { createSocket } from "node:dgram";

/** xorshift32: the same packets in every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function header(next: () => number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(next() & 0xffff, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

function randomBytes(next: () => number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = next() & 0xff;
  return b;
}

const SHAPES = 8;

/** The i-th malformed packet. */
export function malformedPacket(next: () => number, i: number): Buffer {
  const name = Buffer.from([4, 0x62, 0x61, 0x64, 0x78, 4, 0x74, 0x65, 0x73, 0x74, 0]); // badx.test.
  switch (i % SHAPES) {
    case 0:
      return randomBytes(next, next() % 12);
    case 1:
      return header(next, 0x0100, 1);
    case 2:
      return Buffer.concat([header(next, 0x0100, 1), Buffer.from([63, 0x61, 0x62])]);
    case 3: // a pointer to itself in the question name
      return Buffer.concat([header(next, 0x0100, 1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    case 4:
      return Buffer.concat([header(next, 0x0100, 1), name]);
    case 5:
      return Buffer.concat([
        header(next, 0x0100, 2, 3, 0, 9),
        name,
        Buffer.from([0, 1, 0, 1]),
        randomBytes(next, 7),
      ]);
    case 6: // UPDATE opcode
      return Buffer.concat([header(next, 0x2800, 1), name, Buffer.from([0, 6, 0, 1])]);
    default:
      return randomBytes(next, 12 + (next() % 500));
  }
}

/** Sends `count` malformed datagrams to host:port; resolves with the seconds it took. */
export async function sendMalformed(host: string, port: number, count: number, seed = 12): Promise<number> {
  const next = rng(seed);
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.setSendBufferSize(4 << 20);
  const started = performance.now();
  const BATCH = 256;
  for (let sent = 0; sent < count; ) {
    const n = Math.min(BATCH, count - sent);
    await new Promise<void>((resolve) => {
      let left = n;
      for (let k = 0; k < n; k++) {
        socket.send(malformedPacket(next, sent + k), port, host, () => {
          if (--left === 0) resolve();
        });
      }
    });
    sent += n;
    // Pace to about what one server core reads, so the packets are handled rather than dropped.
    if (sent % 4096 === 0) await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  return seconds;
}
