// Eviction policy, in process (no sockets): the packet cache's hit ratio against lru-cache's LRU
// (the store before the arena) on a cycle of 10,000 names through the default capacity (9,984),
// and on Zipf-like workloads. Every miss inserts the name's reply, as the daemon does.
//   node bench/eviction.ts [--queries N (10^6)]

import * as packet from "dns-packet";
import { LRUCache } from "lru-cache";
import { MISS, PacketCache } from "../src/cache/index.ts";
import type { CacheConfig } from "../src/config/types.ts";
import { parseQuery, QueryView } from "../src/dns/index.ts";
import { cycle, zipf } from "./workloads.ts";

const argv = process.argv.slice(2);
const queries = argv.includes("--queries") ? Number(argv[argv.indexOf("--queries") + 1]) : 1_000_000;
const CAPACITY = 9984;

const config: CacheConfig = {
  zones: [],
  success: { capacity: CAPACITY, maxTtl: 3600, minTtl: 5 },
  denial: { capacity: CAPACITY, maxTtl: 1800, minTtl: 5 },
  servfailTtl: 5,
  prefetch: null,
  serveStale: null,
  keepTtl: false,
  line: 1,
};

const name = (i: number) => `name${i}.bench.test`;
const view = new QueryView();
function queryFor(i: number): QueryView {
  parseQuery(
    packet.encode({
      type: "query",
      id: 1,
      flags: packet.RECURSION_DESIRED,
      questions: [{ name: name(i), type: "A" }],
    }),
    view,
  );
  return view;
}
function replyFor(i: number): Buffer {
  return packet.encode({
    type: "response",
    id: 1,
    flags: packet.RECURSION_AVAILABLE,
    questions: [{ name: name(i), type: "A" }],
    answers: [
      { name: name(i), type: "A", ttl: 3600, data: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    ],
  });
}

/** Hit ratio (%) over the sequence after the first `warm` queries. */
function ratio(seq: Iterable<number>, warm: number, hit: (i: number) => boolean): number {
  let hits = 0;
  let total = 0;
  let k = 0;
  for (const i of seq) {
    const h = hit(i);
    if (k++ >= warm) {
      total++;
      if (h) hits++;
    }
  }
  return (100 * hits) / total;
}

function ours(): (i: number) => boolean {
  const cache = new PacketCache(config, () => 0);
  return (i) => {
    const q = queryFor(i);
    if (cache.lookup(q) !== MISS) return true;
    cache.insert(q, replyFor(i));
    return false;
  };
}

function lru(): (i: number) => boolean {
  const cache = new LRUCache<number, true>({ max: CAPACITY });
  return (i) => {
    if (cache.get(i) !== undefined) return true;
    cache.set(i, true);
    return false;
  };
}

const workloads: [string, () => Iterable<number>][] = [
  ["cycle: 10,000 names in order", () => cycle(10_000, queries)],
  ["Zipf s=0.8 over 100,000 names", () => zipf(100_000, 0.8, queries)],
  ["Zipf s=1.0 over 100,000 names", () => zipf(100_000, 1.0, queries)],
  ["Zipf s=0.9 over 1,000,000 names", () => zipf(1_000_000, 0.9, queries)],
];
const warm = Math.floor(queries / 4);
process.stdout.write(
  `## Eviction: hit ratio after ${warm} warm-up queries, ${queries - warm} measured, capacity ${CAPACITY}\n\n`,
);
process.stdout.write(
  "| workload | arena (random-5 sampling, fewest hits) | LRU (lru-cache) |\n| --- | ---: | ---: |\n",
);
for (const [label, make] of workloads) {
  const a = ratio(make(), warm, ours());
  const b = ratio(make(), warm, lru());
  process.stdout.write(`| ${label} | ${a.toFixed(2)} % | ${b.toFixed(2)} % |\n`);
}
