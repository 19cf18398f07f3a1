// Listeners, routing and the chain.
export { CachePlugin } from "./cache-plugin.ts";
export { CHAIN_ORDER, composeChain, deliver, type Handler, type Next, type PluginName } from "./chain.ts";
export { CONTROL_SUFFIX, ControlNames, controlName, newToken } from "./control.ts";
export { ForwardPlugin } from "./forward-plugin.ts";
export { type Address, enableTcpMigration, otherSocketBound, successorServes } from "./handoff.ts";
export { KubernetesPlugin } from "./kubernetes-plugin.ts";
export type { TcpTimeouts } from "./listener.ts";
export { Query, type Transport } from "./query.ts";
export type { Route } from "./router.ts";
export { blockServerLabel, DnsServer, type HandlerFactory, type ServerDeps } from "./server.ts";
