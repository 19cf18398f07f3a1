// `pprof [ADDRESS] { block [RATE] }` (CoreDNS): a profiling HTTP endpoint, default localhost:6053.
// Go's pprof has no Node equivalent; the nearest useful thing is a V8 CPU profile and heap snapshot
// (see profiler.ts). `block` (Go's blocking profile) is accepted and has no effect.

import { type BuildContext, type Directive, Reader, readListenAddress } from "../../config/for-plugins.ts";
import { type BlockPlugins, definePlugin, pluginConfig } from "../types.ts";

export { startPprofServer } from "./profiler.ts";

export interface PprofConfig {
  /** host:port to listen on. */
  address: string;
  line: number;
}

export const DEFAULT_PPROF_ADDRESS = "localhost:6053";
const USAGE = "pprof [ADDRESS] { block [RATE] }";

export function parsePprof(ctx: BuildContext, d: Directive): PprofConfig {
  const r = new Reader(ctx, d, USAGE);
  const address = readListenAddress(r, d, DEFAULT_PPROF_ADDRESS);
  for (const s of r.sub()) {
    if (s.name !== "block") r.unknownSub(s, ["block"]);
    r.noBlock(s, "block [RATE]");
    r.count(s.args, 0, 1, s.line, "block [RATE]", "block");
    if (s.args[0] !== undefined) r.int(s.args[0], "block RATE", "block [RATE]", 0);
  }
  return { address, line: d.line };
}

/** The pprof address a block asks for, or null. */
export function pprofAddressOf(plugins: BlockPlugins): string | null {
  return pluginConfig<PprofConfig>(plugins, "pprof")?.address ?? null;
}

export const pprofPlugin = definePlugin<PprofConfig>({
  name: "pprof",
  repeatable: false,
  parse: parsePprof,
});
