// The plugin table: every directive that lives in src/plugins/NAME/ (its parsing, its handler, its
// logic), registered once. Chain position is the name's place in CHAIN_ORDER (src/server/chain.ts),
// so the order stays declared in one place. A block without a directive has no handler for it: the
// composed chain of such a block is exactly what it was without the table. Parsing is here at once;
// handler code is imported by loadPlugins only for the directives a config uses (memory: a daemon
// without hosts, rewrite or template does not carry them, nor dns-packet).

import type { Config } from "../config/types.ts";
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
import type { HandlerFactory, PluginSpec } from "./types.ts";
import { whoamiPlugin } from "./whoami/index.ts";

export {
  definePlugin,
  type HandlerFactory,
  type PluginEnv,
  type PluginSpec,
  SETUP_DIRECTIVES,
} from "./types.ts";

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

/** Factories loaded so far, by directive: a reload that uses the same plugins imports nothing. */
const loaded = new Map<string, HandlerFactory<unknown>>();

/** Imports the handler code of every table plugin some block of `config` uses; before chains are built. */
export async function loadPlugins(config: Config): Promise<void> {
  const used = new Set(config.blocks.flatMap((b) => Object.keys(b.plugins)));
  const wanted = PLUGIN_TABLE.filter((p) => used.has(p.name) && p.load !== undefined && !loaded.has(p.name));
  const factories = await Promise.all(wanted.map(async (p) => [p.name, await p.load!()] as const));
  for (const [name, factory] of factories) loaded.set(name, factory);
}

/** The handler factory of a plugin loaded by loadPlugins; undefined for setup directives. */
export function handlerFactory(plugin: PluginSpec<unknown>): HandlerFactory<unknown> | undefined {
  if (plugin.load === undefined) return undefined;
  const factory = loaded.get(plugin.name);
  if (factory === undefined) throw new Error(`plugin ${plugin.name}: handler used before loadPlugins`);
  return factory;
}
