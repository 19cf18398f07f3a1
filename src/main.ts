#!/usr/bin/env node
// Entry point: flags -> validated config -> daemon; signals. Only wiring lives here.

import { readFileSync, writeFileSync } from "node:fs";
import { DEFAULT_COREFILE, parseFlags, resolvConfPaths, usage } from "./cli/index.ts";
import { systemNow } from "./clock/index.ts";
import { parseCorefile } from "./config/index.ts";
import { Daemon } from "./daemon/index.ts";
import { DaemonError } from "./errors/index.ts";
import { createLogger } from "./log/index.ts";
import { createMetrics } from "./metrics/index.ts";
import { VERSION } from "./version.ts";

function fail(message: string): never {
  process.stderr.write(`nodelocaldns: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage()}\n`);
    process.exit(1);
  }
  if (flags.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (flags.version) {
    process.stdout.write(`nodelocaldns ${VERSION} (node ${process.versions.node})\n`);
    return;
  }
  const log = createLogger();
  const paths = resolvConfPaths(process.env);
  // resolv.conf paths named in a Corefile resolve through the overridable locations.
  const readFile = (path: string): string =>
    readFileSync(path === "/etc/resolv.conf" ? paths.resolvConf : path, "utf8");
  const file = flags.conf ?? "<built-in default>";
  let config: ReturnType<typeof parseCorefile>;
  try {
    const text = flags.conf === null ? DEFAULT_COREFILE : readFileSync(flags.conf, "utf8");
    config = parseCorefile(text, { file, env: process.env, readFile });
  } catch (error) {
    fail(error instanceof DaemonError ? error.message : `${file}: ${(error as Error).message}`);
  }
  if (flags.pidfile !== null) writeFileSync(flags.pidfile, `${process.pid}\n`);

  const metrics = createMetrics(VERSION);
  const daemon = new Daemon({ log, metrics, now: systemNow, reusePort: true });
  try {
    await daemon.start(config);
  } catch (error) {
    fail(`cannot start: ${(error as Error).message}`);
  }
  for (const block of config.blocks) {
    log.info(
      {
        zones: block.zones,
        listen: (block.bind.length > 0 ? block.bind : ["::"]).map((h) => `${h}:${block.port}`),
        forward: block.forward?.to.map((u) => `${u.host}:${u.port}`) ?? [],
        metrics: block.prometheus,
      },
      `serving ${block.zones.join(" ")} on ${(block.bind.length > 0 ? block.bind : ["*"]).join(",")} port ${block.port}` +
        (block.forward ? `, forwarding to ${block.forward.to.map((u) => `${u.host}:${u.port}`).join(" ")}` : ""),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping: answering queries in flight");
    daemon.stop(5000).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main();
