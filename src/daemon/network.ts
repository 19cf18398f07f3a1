// Node networking around the daemon's lifetime (node-cache order): interface before the listeners,
// iptables rules after them, periodic re-check, teardown on exit unless -skipteardown.
// Nothing is touched without -localip, or when both -setupinterface and -setupiptables are false.

import type { Flags } from "../cli/index.ts";
import type { Logger } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { NodeNetwork, realExec } from "../netif/index.ts";

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

export function networkHooks(flags: Flags, log: Logger, metrics: Metrics): NetworkHooks {
  if (!flags.setupinterface && !flags.setupiptables) return NONE;
  if (flags.localip.length === 0) {
    log.info("no -localip given: interface and iptables set-up skipped");
    return NONE;
  }
  const child = log.child({ module: "netif" });
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
  });
  return {
    beforeListeners: () => network.setupInterface(),
    afterListeners: async () => {
      await network.setupRules();
      network.startSync();
    },
    shutdown: async (handedOff = false) => {
      if (handedOff) log.info("handed over to a successor: interface and rules left to it");
      if (flags.skipteardown || handedOff) network.stop();
      else await network.teardown();
    },
  };
}
