// Configuration files and query files for the bench, plus a tiny UDP readiness probe.
// Everything lives on loopback inside the private network namespace run.sh creates.

import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const UPSTREAM = { host: "127.0.0.53", port: 5301 };
export const NAMES = 10_000;
export const ZONE = "bench.test";
export const MISS_ZONE = "miss.bench.test";

export interface ServerSpec {
  /** "ours", "unbound", "dnsmasq", or a variant of our daemon (cluster, metrics-on, workers-2, ...). */
  key: string;
  label: string;
  host: string;
  port: number;
  /** How it reaches the upstream on a cache miss. */
  upstreamTransport: "tcp" | "udp";
  argv: string[];
  config: string;
  /** Our daemon's /metrics URL (for its cache-hit ratio), when it serves one. */
  metricsUrl?: string;
}

export function hitName(i: number): string {
  return `name${String(i).padStart(5, "0")}.${ZONE}`;
}

function ip(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

const unboundCommon = (dir: string, iface: string) => `server:
  interface: ${iface}
  access-control: 127.0.0.0/8 allow
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  module-config: "iterator"
  qname-minimisation: no
  prefetch: no
  num-queries-per-thread: 4096
  incoming-num-tcp: 64
`;

/** Authoritative-style upstream: 10,000 A records (TTL 3600) plus a redirect zone; "." refused so nothing recurses. */
export function writeUpstream(dir: string): string {
  const lines = [
    unboundCommon(dir, `${UPSTREAM.host}@${UPSTREAM.port}`),
    '  local-zone: "." refuse',
    `  local-zone: "${ZONE}." static`,
  ];
  for (let i = 1; i <= NAMES; i++) lines.push(`  local-data: "${hitName(i)}. 3600 IN A ${ip(i)}"`);
  lines.push(`  local-zone: "${MISS_ZONE}." redirect`, `  local-data: "${MISS_ZONE}. 3600 IN A 10.200.0.1"`);
  lines.push("remote-control:", "  control-enable: no", "");
  const path = join(dir, "upstream.conf");
  writeFileSync(path, lines.join("\n"));
  return path;
}

/**
 * The runtime settings that ship (Dockerfile ENV and ENTRYPOINT, `npm start`): measure what ships.
 * A 2 MiB semi-space keeps the young generation from committing 16 MiB it never returns (1 MiB saved
 * ~1 MiB more but applied a watch-event burst at half the rate, p99 DNS 160-235 ms during it); a 20 %
 * heap-growing factor collects the old generation before promoted miss-path garbage piles up (the
 * live old generation is small now that the cache is off the heap); the malloc tunables keep V8's
 * compiler zones and Node's socket buffers from pinning freed pages in per-thread arenas; without
 * Maglev (V8's mid-tier compiler; code goes from Sparkplug to TurboFan) RssAnon with 10,000 names
 * cached is ~5 MiB lower and its code pages untouched, at the same CPU per hit, per cluster answer
 * and per watch event (interleaved). bench/ab-runtime.ts weighs them. NLD_BENCH_NODE_FLAGS / NLD_BENCH_ENV override them for experiments.
 */
export const SHIPPED_NODE_FLAGS: readonly string[] = words(process.env.NLD_BENCH_NODE_FLAGS) ?? [
  "--max-semi-space-size=2",
  "--heap-growing-percent=20",
  "--no-maglev",
];
export const SHIPPED_ENV: readonly string[] = words(process.env.NLD_BENCH_ENV) ?? [
  "MALLOC_ARENA_MAX=2",
  "MALLOC_MMAP_THRESHOLD_=32768",
  "MALLOC_TRIM_THRESHOLD_=32768",
];

function words(s: string | undefined): string[] | undefined {
  return s === undefined ? undefined : s.split(" ").filter((w) => w !== "");
}

/** How our daemon is started as shipped: `env` with the shipped environment, node, its flags. */
export function shippedCommand(node: string, flags: readonly string[] = SHIPPED_NODE_FLAGS): string[] {
  return ["env", ...SHIPPED_ENV, node, ...flags];
}

export function serverSpecs(dir: string, node: string, mainJs: string): ServerSpec[] {
  const corefile = `.:10053 {
    bind 127.0.0.1
    cache 30 {
        success 20000
    }
    forward . ${UPSTREAM.host}:${UPSTREAM.port} {
        force_tcp
    }
    prometheus 127.0.0.1:9253
}
`;
  // "test." is one of unbound's built-in empty zones (RFC 6761): switch it off so it forwards.
  const unbound = `${unboundCommon(dir, "127.0.0.1@10054")}  do-not-query-localhost: no
  local-zone: "test." nodefault
  outgoing-num-tcp: 64
  msg-cache-size: 32m
  rrset-cache-size: 64m
  forward-zone:
    name: "."
    forward-addr: ${UPSTREAM.host}@${UPSTREAM.port}
    forward-tcp-upstream: yes
remote-control:
  control-enable: no
`;
  const corePath = join(dir, "Corefile");
  const unboundPath = join(dir, "unbound-fwd.conf");
  writeFileSync(corePath, corefile);
  writeFileSync(unboundPath, unbound);
  return [
    {
      key: "ours",
      label: "nodelocaldns (1 worker)",
      host: "127.0.0.1",
      port: 10053,
      upstreamTransport: "tcp",
      argv: [...shippedCommand(node), mainJs, "-conf", corePath, "-workers", "1"],
      config: corefile,
      metricsUrl: "http://127.0.0.1:9253/metrics",
    },
    {
      key: "unbound",
      label: "unbound (num-threads 1)",
      host: "127.0.0.1",
      port: 10054,
      upstreamTransport: "tcp",
      argv: ["unbound", "-d", "-c", unboundPath],
      config: unbound,
    },
    {
      key: "dnsmasq",
      label: "dnsmasq",
      host: "127.0.0.1",
      port: 10055,
      upstreamTransport: "udp",
      argv: [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        `--server=${UPSTREAM.host}#${UPSTREAM.port}`,
        "--cache-size=20000",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--port=10055",
        "--dns-forward-max=1000",
        `--pid-file=${join(dir, "dnsmasq.pid")}`,
        "--user=root",
      ],
      config: "(command-line flags only)",
    },
  ];
}

export function writeHitQueries(dir: string): string {
  const lines: string[] = [];
  for (let i = 1; i <= NAMES; i++) lines.push(`${hitName(i)} A`);
  const path = join(dir, "hits.txt");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** `count` unique names under the redirect zone; `tag` keeps each server's (and round's) names apart. */
export function writeMissQueries(dir: string, tag: string, count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`u${i}-${tag}.${MISS_ZONE} A`);
  const path = join(dir, `miss-${tag}.txt`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function query(name: string): Buffer {
  const parts = name.split(".").filter((p) => p !== "");
  const qname = Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "ascii")])),
    Buffer.from([0]),
  ]);
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1])]);
}

/** Sends one A query until an answer with NOERROR arrives or deadlineMs passes. */
export async function waitReady(
  host: string,
  port: number,
  name: string,
  deadlineMs: number,
): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createSocket("udp4");
      const timer = setTimeout(() => {
        sock.close();
        resolve(false);
      }, 300);
      sock.on("error", () => {
        clearTimeout(timer);
        sock.close();
        resolve(false);
      });
      sock.on("message", (msg) => {
        clearTimeout(timer);
        sock.close();
        resolve(msg.length >= 12 && (msg[3]! & 0x0f) === 0 && msg.readUInt16BE(6) > 0);
      });
      sock.send(query(name), port, host);
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
