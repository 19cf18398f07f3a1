// `nodelocaldns [FLAGS]`: serve DNS. Flags -> validated config -> daemon (or the supervisor of its
// workers); reload; signals. Only wiring lives here.

import cluster from "node:cluster";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { DEFAULT_COREFILE, parseFlags, resolvConfPaths, usage } from "../cli/index.ts";
import { systemNow } from "../clock/index.ts";
import { type Config, parseCorefile, parseResolvConf } from "../config/index.ts";
import { Daemon } from "../daemon/index.ts";
import { networkHooks } from "../daemon/network.ts";
import { DaemonError } from "../errors/index.ts";
import { createLogger } from "../log/index.ts";
import { createMetrics } from "../metrics/index.ts";
import { CorefileGenerator } from "../nodecache/index.ts";
import { ReloadController } from "../reload/index.ts";
import { newToken } from "../server/index.ts";
import { udpIo } from "../udp/index.ts";
import { VERSION } from "../version.ts";
import { attachWorker, primaryWatches, Supervisor } from "../workers/index.ts";

function fail(message: string): never {
  process.stderr.write(`nodelocaldns: ${message}\n`);
  process.exit(1);
}

function message(error: unknown, file: string): string {
  return error instanceof DaemonError ? error.message : `${file}: ${(error as Error).message}`;
}

/** The node's search domains (autopath tries them after the cluster's); none if unreadable. */
function hostSearchDomains(read: () => string): string[] {
  try {
    return parseResolvConf(read()).search;
  } catch {
    return [];
  }
}

/** What serves DNS in this process tree: the daemon itself, or the supervisor of its workers. */
interface Serving {
  start(config: Config): Promise<void>;
  apply(config: Config): Promise<void>;
  shutdown(timeoutMs: number): Promise<{ handedOff: boolean }>;
}

function reloader(
  confFile: string | null,
  regenerate: (() => void) | null,
  parse: (text: string) => Config,
  apply: (config: Config) => Promise<void>,
  log: ReturnType<typeof createLogger>,
  metrics: ReturnType<typeof createMetrics>,
  text: string,
): ReloadController {
  return new ReloadController(
    {
      confFile: confFile ?? "",
      regenerate,
      parse,
      apply,
      log,
      failed: () => metrics.reloadFailed.inc(),
      version: (sum) => {
        metrics.reloadVersionInfo.reset();
        metrics.reloadVersionInfo.labels("sha512", sum).set(1);
      },
    },
    text,
  );
}

/** Everything both serving paths start from: flags, logger, metrics, the parsed configuration. */
interface Prepared {
  flags: ReturnType<typeof parseFlags>;
  log: ReturnType<typeof createLogger>;
  metrics: ReturnType<typeof createMetrics>;
  parse: (text: string) => Config;
  generator: CorefileGenerator | null;
  text: string;
  config: Config;
  hostSearch: string[];
}

/** `nodelocaldns [FLAGS]`: serve DNS (node-cache's flags); a worker of -workers N serves its share. */
export async function serve(argv: string[]): Promise<void> {
  const prepared = prepare(argv);
  if (prepared === null) return;
  if (cluster.isWorker) await serveWorker(prepared);
  else await servePrimary(prepared);
}

function prepare(argv: string[]): Prepared | null {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage()}\n`);
    process.exit(1);
  }
  if (flags.help) {
    process.stdout.write(`${usage()}\n`);
    return null;
  }
  if (flags.version) {
    process.stdout.write(`nodelocaldns ${VERSION} (node ${process.versions.node})\n`);
    return null;
  }
  for (const ip of flags.localip) if (isIP(ip) === 0) fail(`invalid localip specified - "${ip}"`);
  const log = createLogger();
  const metrics = createMetrics(VERSION);
  const paths = resolvConfPaths(process.env);
  // resolv.conf paths named in a Corefile resolve through the overridable locations.
  const readFile = (path: string): string =>
    readFileSync(path === "/etc/resolv.conf" ? paths.resolvConf : path, "utf8");
  const file = flags.conf ?? "<built-in default>";
  const parse = (text: string): Config =>
    parseCorefile(text, { file, env: process.env, readFile, defaultPort: flags.dnsPort });

  // node-cache mode: with a base file, -conf is generated from it (and kept up to date).
  let generator: CorefileGenerator | null = null;
  if (!cluster.isWorker && flags.conf !== null && existsSync(flags.basecorefile)) {
    generator = new CorefileGenerator({
      baseFile: flags.basecorefile,
      confFile: flags.conf,
      kubednsDir: flags.kubednscm,
      upstreamSvc: flags.upstreamsvc,
      localIps: flags.localip,
      port: flags.dnsPort,
      env: process.env,
      paths,
      validate: (text) => void parse(text),
      log,
      onConfigMapError: () => metrics.nodecacheSetupErrors.labels("configmap").inc(),
    });
    try {
      generator.sync();
    } catch (error) {
      fail(`cannot generate ${flags.conf} from ${flags.basecorefile}: ${message(error, flags.basecorefile)}`);
    }
  } else if (!cluster.isWorker && flags.conf !== null) {
    log.info(
      { conf: flags.conf, basecorefile: flags.basecorefile },
      `no base Corefile at ${flags.basecorefile}; serving ${flags.conf} as it is`,
    );
  }

  let text: string;
  let config: Config;
  try {
    text = flags.conf === null ? DEFAULT_COREFILE : readFileSync(flags.conf, "utf8");
    config = parse(text);
  } catch (error) {
    fail(message(error, file));
  }
  const hostSearch = hostSearchDomains(() => readFileSync(paths.resolvConf, "utf8"));
  return { flags, log, metrics, parse, generator, text, config, hostSearch };
}

/** One of several serving processes: DNS only; the primary has the node, HTTP and signals. */
async function serveWorker({
  flags,
  log,
  metrics,
  parse,
  text,
  config,
  hostSearch,
}: Prepared): Promise<void> {
  const token = process.env.NODELOCALDNS_CONTROL_TOKEN;
  const daemon = new Daemon({
    log,
    metrics,
    now: systemNow,
    reusePort: true,
    worker: true,
    startWatch: primaryWatches(),
    controlToken: token,
    nodeName: process.env.NODE_NAME,
    hostSearch,
  });
  try {
    await daemon.start(config);
  } catch (error) {
    fail(`worker cannot start: ${(error as Error).message}`);
  }
  const reload = reloader(flags.conf, null, parse, (next) => daemon.apply(next), log, metrics, text);
  if (flags.conf !== null) reload.start(config);
  attachWorker(daemon, metrics, log, () => reload.stop());
  process.on("SIGINT", () => {}); // the primary relays the stop
}

/** The process the node runs: the node's interface and rules, HTTP endpoints, reload, signals. */
async function servePrimary(prepared: Prepared): Promise<void> {
  const { flags, log, metrics, parse, generator, text, config, hostSearch } = prepared;
  if (flags.pidfile !== null) writeFileSync(flags.pidfile, `${process.pid}\n`);

  let network: ReturnType<typeof networkHooks>;
  try {
    network = networkHooks(flags, log, metrics);
  } catch (error) {
    fail(message(error, "flags"));
  }
  const workers = flags.workers === "auto" ? availableParallelism() : flags.workers;
  const serving: Serving =
    workers > 1
      ? new Supervisor({
          count: workers,
          controlToken: newToken(),
          log,
          metrics,
          nodecacheMetricsAddress: flags.metricsListenAddress,
          nodeName: process.env.NODE_NAME,
          now: systemNow,
        })
      : new Daemon({
          log,
          metrics,
          now: systemNow,
          reusePort: true,
          nodecacheMetricsAddress: flags.metricsListenAddress,
          nodeName: process.env.NODE_NAME,
          hostSearch,
        });
  try {
    await network.beforeListeners();
    await serving.start(config);
    await network.afterListeners();
  } catch (error) {
    fail(`cannot start: ${(error as Error).message}`);
  }
  const reload = reloader(
    flags.conf,
    generator === null ? null : () => void generator.sync(),
    parse,
    (next) => serving.apply(next),
    log,
    metrics,
    text,
  );
  if (flags.conf !== null) reload.start(config);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping: answering queries in flight");
    reload.stop();
    serving
      .shutdown(workers > 1 ? 30_000 : 5_000)
      .then(({ handedOff }) => network.shutdown(handedOff))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, "stop failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  const udp = udpIo();
  if (udp.kind === "dgram")
    log.warn({ udp: udp.kind, reason: udp.reason }, `UDP through node:dgram (slower): ${udp.reason}`);
  // Last: "serving" tells a supervisor (and the tests) that a SIGTERM from now on is handled.
  for (const block of config.blocks) {
    const forward = block.forward?.to.map((u) => `${u.host}:${u.port}`) ?? [];
    log.info(
      {
        zones: block.zones,
        listen: (block.bind.length > 0 ? block.bind : ["::"]).map((h) => `${h}:${block.port}`),
        forward,
        metrics: block.prometheus,
        udp: udp.kind,
      },
      `serving ${block.zones.join(" ")} on ${(block.bind.length > 0 ? block.bind : ["*"]).join(",")} port ${block.port}` +
        (forward.length > 0 ? `, forwarding to ${forward.join(" ")}` : ""),
    );
  }
}
