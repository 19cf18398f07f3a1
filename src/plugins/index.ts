// The plugin table: every directive that lives in src/plugins/NAME/ (its parsing, its handler, its
// logic), registered once. Chain position is the name's place in CHAIN_ORDER (src/server/chain.ts),
// so the order stays declared in one place. A block without a directive has no handler for it: the
// composed chain of such a block is exactly what it was without the table.

import { bufsizePlugin } from "./bufsize/index.ts";
import { debugPlugin } from "./debug/index.ts";
import { dns64Plugin } from "./dns64/index.ts";
import { explainPlugin } from "./explain/index.ts";
import { hostsPlugin } from "./hosts/index.ts";
import { loadbalancePlugin } from "./loadbalance/index.ts";
import { pprofPlugin } from "./pprof/index.ts";
import { rewritePlugin } from "./rewrite/index.ts";
import { templatePlugin } from "./template/index.ts";
import { timeoutsPlugin } from "./timeouts/index.ts";
import type { PluginSpec } from "./types.ts";
import { whoamiPlugin } from "./whoami/index.ts";

export { answer, buildReply, type DnsRecord, questionName } from "./reply.ts";
export { definePlugin, type PluginEnv, type PluginSpec, SETUP_DIRECTIVES } from "./types.ts";

export const PLUGIN_TABLE: readonly PluginSpec<unknown>[] = [
  hostsPlugin,
  rewritePlugin,
  templatePlugin,
  loadbalancePlugin,
  bufsizePlugin,
  whoamiPlugin,
  dns64Plugin,
  timeoutsPlugin,
  debugPlugin,
  pprofPlugin,
  explainPlugin,
];
