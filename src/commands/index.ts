// The program's commands. Each is loaded only when run: `explain` and `cache` (a short HTTP call to
// a running daemon) never load the daemon's modules.

export type Command = (argv: string[]) => Promise<void>;

/** `nodelocaldns NAME ARGS...`; any other first word (node-cache's flags) means `serve`. */
export const COMMANDS: Record<string, () => Promise<Command>> = {
  explain: async () => (await import("./explain.ts")).explainCommand,
  cache: async () => (await import("./cache.ts")).cacheCommand,
};

/** Serving DNS: the default command, with node-cache's flags. */
export const serveCommand = async (): Promise<Command> => (await import("./serve.ts")).serve;
