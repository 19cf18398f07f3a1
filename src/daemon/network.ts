// Node networking around the daemon's lifetime (node-cache order): interface before the listeners,
// iptables rules after them, periodic re-check, teardown on exit unless -skipteardown.
// Nothing is touched without -localip, or when both -setupinterface and -setupiptables are false.

import type { Flags } from "../cli/index.ts";
import { Heartbeat } from "../health/index.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { NodeNetwork, realExec } from "../netif/index.ts";
import { serviceHostEnv } from "../nodecache/index.ts";
import { controlName, newToken } from "../server/index.ts";

/** Often enough that a quiet node's cache stays inside ALIVE_SECONDS with a slow loop turn to spare. */
export const HEARTBEAT_MS = 200;

export interface NetworkHooks {
  beforeListeners(): Promise<void>;
  afterListeners(): Promise<void>;
  /** `handedOff`: a successor serves our addresses now, so its interface and rules stay. */
  shutdown(handedOff?: boolean): Promise<void>;
}

const NONE: NetworkHooks = {
  beforeListeners: async () => {},
  afterListeners: async () => {},
  shutdown: async () => {},
};

export function networkHooks(
  flags: Flags,
  log: Logger,
  metrics: Metrics,
  env: NodeJS.ProcessEnv = process.env,
): NetworkHooks {
  if (!flags.setupinterface && !flags.setupiptables) return NONE;
  if (flags.localip.length === 0) {
    log.info("no -localip given: interface and iptables set-up skipped");
    return NONE;
  }
  const child = log.child({ module: "netif" });
  const upstreamIp = env[serviceHostEnv(flags.upstreamsvc)]?.trim() || null;
  const network = new NodeNetwork({
    interfaceName: flags.interfacename,
    localIps: flags.localip,
    dnsPort: flags.dnsPort,
    healthPort: flags.healthPort,
    setupInterface: flags.setupinterface,
    setupIptables: flags.setupiptables,
    syncIntervalMs: flags.syncintervalMs,
    exec: realExec,
    log: {
      debug: (m) => child.debug(m),
      info: (m) => child.info(m),
      warn: (m) => child.warn(m),
      error: (m) => child.error(m),
    },
    onError: (errortype) => metrics.nodecacheSetupErrors.labels(errortype).inc(),
    upstreamIp,
  });
  // The conditional NOTRACK needs a recent answer from each local IP (src/health/heartbeat.ts).
  const heartbeat = new Heartbeat({
    targets: flags.localip.map((host) => ({ host, port: flags.dnsPort })),
    name: controlName("h", newToken()),
    intervalMs: HEARTBEAT_MS,
  });
  return {
    beforeListeners: () => network.setupInterface(),
    afterListeners: async () => {
      // Bound sockets first, then rules: no flow is captured before a socket can answer it.
      await network.setupRules();
      if (flags.setupiptables) heartbeat.start();
      network.startSync();
    },
    shutdown: async (handedOff = false) => {
      if (handedOff) log.info("handed over to a successor: interface and rules left to it");
      if (flags.skipteardown || handedOff) network.stop();
      else await network.teardown();
      heartbeat.stop();
    },
  };
}
