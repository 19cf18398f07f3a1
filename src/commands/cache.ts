// `nodelocaldns cache show NAME` and `nodelocaldns cache flush NAME` [--json] [--server ADDRESS]:
// the entries the running daemon caches for NAME and every name below it; drop them.

import type { CacheListing } from "../explain/index.ts";
import { callEndpoint, parseOptions, runCommand, UsageError } from "./debug-client.ts";

export const CACHE_USAGE = "usage: nodelocaldns cache show|flush NAME [--json] [--server ADDRESS]";

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function listingText(name: string, listing: CacheListing): string {
  const lines: string[] = [];
  for (const cache of listing.caches) {
    const worker = cache.worker === undefined ? "" : ` (worker ${cache.worker})`;
    lines.push(
      `cache of ${cache.block}${worker}: ${plural(cache.entries.length, "entry", "entries")} under ${name}`,
    );
    for (const e of cache.entries) {
      const flags = [e.kind, e.stale ? "STALE" : "", e.dnssecOk ? "DO" : ""]
        .filter((f) => f !== "")
        .join(",");
      lines.push(`  ${e.name} ${e.type} ${e.rcode} ttl ${e.ttlLeft} hits ${e.hits} ${flags}`);
    }
  }
  if (listing.caches.length === 0) lines.push("no server block has a cache");
  return `${lines.join("\n")}\n`;
}

export function cacheCommand(argv: string[]): Promise<void> {
  return runCommand(CACHE_USAGE, async () => {
    const options = parseOptions(argv, [], []);
    const [action, name, ...extra] = options.rest;
    if ((action !== "show" && action !== "flush") || name === undefined || extra.length > 0)
      throw new UsageError(
        `expected cache show NAME or cache flush NAME (given "${options.rest.join(" ")}")`,
      );
    const query = new URLSearchParams({ name });
    if (action === "show") {
      const listing = (await callEndpoint(options.server, "GET", `/cache?${query}`)) as CacheListing;
      process.stdout.write(
        options.json ? `${JSON.stringify(listing, null, 2)}\n` : listingText(name, listing),
      );
      return;
    }
    const result = (await callEndpoint(options.server, "POST", `/cache/flush?${query}`)) as {
      flushed: number;
    };
    process.stdout.write(
      options.json
        ? `${JSON.stringify(result)}\n`
        : `flushed ${plural(result.flushed, "entry", "entries")} under ${name}\n`,
    );
  });
}
