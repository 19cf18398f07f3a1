// The shape of one entry of the plugin table: how a directive is parsed (at once), and how its handler
// is built (code loaded only when a Corefile uses the directive).

import type { Now, TimerWheel } from "../clock/index.ts";
import type { BuildContext, Directive } from "../config/for-plugins.ts";
import type { ServerBlock } from "../config/types.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { Handler, PluginName } from "../server/index.ts";

/** A block's table directives: name -> the config of each occurrence, in order. */
export type BlockPlugins = ServerBlock["plugins"];

/** The config of a directive's first occurrence in a block, or undefined when the block lacks it. */
export function pluginConfig<C>(plugins: BlockPlugins, name: string): C | undefined {
  return plugins[name]?.[0] as C | undefined;
}

/** What a handler factory gets: its block and the daemon's shared services. */
export interface PluginEnv {
  block: ServerBlock;
  now: Now;
  log: Logger;
  metrics: Metrics;
  wheel: TimerWheel;
  /** The block's `server` metric label (dns://ADDR:PORT), as the cache labels it. */
  server: string;
  /**
   * Resolve a name through the daemon itself (its own socket: the whole chain, cache included), as
   * CoreDNS's plugin/pkg/upstream does; the raw reply, or null on failure.
   */
  resolve(nameWire: Buffer, qtype: number): Promise<Buffer | null>;
}

/** Table directives that configure the server instead of handling queries: no chain position. */
export const SETUP_DIRECTIVES = ["debug", "explain", "pprof", "timeouts"] as const;
export type SetupDirective = (typeof SETUP_DIRECTIVES)[number];

export interface PluginSpec<C> {
  /** The directive's name in a Corefile; its chain position is its place in CHAIN_ORDER. */
  readonly name: PluginName | SetupDirective;
  /** May appear more than once in a block (each occurrence is one more config, in order). */
  readonly repeatable: boolean;
  /** One occurrence of the directive -> its validated config (throws ConfigError). */
  parse(ctx: BuildContext, d: Directive): C;
  /**
   * Loads the handler's code (a dynamic import) and gives its factory; none for setup directives.
   * On demand, so a daemon pays in memory only for the plugins its Corefile uses.
   */
  load?(): Promise<HandlerFactory<C>>;
}

/** The block's handler from every occurrence's config (in Corefile order). */
export type HandlerFactory<C> = (configs: readonly C[], env: PluginEnv) => Handler;

/** Type-checks one table entry while the table itself holds specs of every config type. */
export function definePlugin<C>(spec: PluginSpec<C>): PluginSpec<unknown> {
  return spec as PluginSpec<unknown>;
}
