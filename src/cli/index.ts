// Command line: node-cache's flags and the embedded default configuration.
export { DEFAULT_COREFILE, resolvConfPaths } from "./defaults.ts";
export { FLAG_SPECS, type Flags, parseFlags, usage } from "./flags.ts";
