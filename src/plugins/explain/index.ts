// `explain [ADDRESS]` (ours): the local debug endpoint that `nodelocaldns explain` and
// `nodelocaldns cache show|flush` call, default 127.0.0.1:9254 (loopback only unless told). The
// endpoint itself lives in src/explain/; this is the directive.

import { type BuildContext, type Directive, Reader, readListenAddress } from "../../config/for-plugins.ts";
import { type BlockPlugins, definePlugin, pluginConfig } from "../types.ts";

export interface ExplainConfig {
  /** host:port to listen on. */
  address: string;
  line: number;
}

/** Where `explain` listens unless told: loopback only, beside CoreDNS's 9153 and node-cache's 9353. */
export const EXPLAIN_DEFAULT_ADDRESS = "127.0.0.1:9254";
const USAGE = `explain [ADDRESS] (default ${EXPLAIN_DEFAULT_ADDRESS})`;

export function parseExplain(ctx: BuildContext, d: Directive): ExplainConfig {
  const r = new Reader(ctx, d, USAGE);
  r.noBlock();
  const address = readListenAddress(r, d, EXPLAIN_DEFAULT_ADDRESS);
  return { address, line: d.line };
}

/** The explain address a block asks for, or null. */
export function explainAddressOf(plugins: BlockPlugins): string | null {
  return pluginConfig<ExplainConfig>(plugins, "explain")?.address ?? null;
}

export const explainPlugin = definePlugin<ExplainConfig>({
  name: "explain",
  repeatable: false,
  parse: parseExplain,
});
