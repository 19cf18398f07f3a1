#!/usr/bin/env node
// Entry point: picks the command. `nodelocaldns [FLAGS]` serves DNS (node-cache's command line);
// `nodelocaldns explain ...` and `nodelocaldns cache ...` ask a running daemon. Each command loads
// only its own modules.

const argv = process.argv.slice(2);

async function run(): Promise<void> {
  switch (argv[0]) {
    case "explain":
      return (await import("./commands/explain.ts")).explainCommand(argv.slice(1));
    case "cache":
      return (await import("./commands/cache.ts")).cacheCommand(argv.slice(1));
    default:
      return (await import("./commands/serve.ts")).serve(argv);
  }
}

void run();
