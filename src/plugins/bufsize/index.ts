// `bufsize [SIZE]` (CoreDNS): caps the EDNS UDP size of the block's queries at SIZE (512..4096,
// default 1232): the size the client's UDP reply may fill, and the size advertised upstream.

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import type { Handler, Next, Query } from "../../server/index.ts";
import { definePlugin } from "../types.ts";

export interface BufsizeConfig {
  size: number;
  line: number;
}

/** DNS flag day 2020's size, CoreDNS's default. */
export const DEFAULT_BUFSIZE = 1232;
const USAGE = "bufsize [SIZE] (SIZE 512..4096)";

export function parseBufsize(ctx: BuildContext, d: Directive): BufsizeConfig {
  const r = new Reader(ctx, d, USAGE);
  r.count(d.args, 0, 1, d.line);
  r.noBlock();
  const a = d.args[0];
  return { size: a === undefined ? DEFAULT_BUFSIZE : r.int(a, "SIZE", USAGE, 512, 4096), line: d.line };
}

export class BufsizePlugin implements Handler {
  readonly name = "bufsize" as const;
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  handle(query: Query, next: Next): void {
    const size = this.size;
    // As CoreDNS: only a query with EDNS and a larger size is lowered.
    if (query.hasOpt && query.udpSize > size) {
      query.udpSize = size;
      if (query.transport.proto === "udp" && query.limit > size) query.limit = size;
    }
    // Our upstream queries always carry EDNS (1232): never advertise more than SIZE there.
    if (query.upstreamUdpSize > size) query.upstreamUdpSize = size;
    next(query);
  }
}

export const bufsizePlugin = definePlugin<BufsizeConfig>({
  name: "bufsize",
  repeatable: false,
  parse: parseBufsize,
  // Nothing heavy behind this handler: it stays in this module.
  async load() {
    return ([config]) => new BufsizePlugin(config!.size);
  },
});
