#!/usr/bin/env node
// Entry point: picks the command. `nodelocaldns [FLAGS]` serves DNS (node-cache's command line);
// `nodelocaldns explain ...` and `nodelocaldns cache ...` ask a running daemon.

import { COMMANDS, serveCommand } from "./commands/index.ts";

const [first, ...rest] = process.argv.slice(2);
const named = first !== undefined && Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;

void (named === undefined
  ? serveCommand().then((serve) => serve(process.argv.slice(2)))
  : named().then((command) => command(rest)));
