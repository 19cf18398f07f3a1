// Adapters from module observer interfaces to Prometheus metrics.

import type { ForwardObserver } from "../forward/index.ts";
import type { Metrics } from "../metrics/index.ts";

export function forwardObserver(metrics: Metrics): ForwardObserver {
  return {
    upstreamResult(to, _proto, rcode, seconds) {
      metrics.proxyDuration.labels("forward", to, rcode).observe(seconds);
    },
    healthcheckFailure(to) {
      metrics.proxyHealthcheckFailures.labels("forward", to).inc();
    },
    allUpstreamsDown() {
      metrics.forwardHealthcheckBroken.inc();
    },
    maxConcurrentReject() {
      metrics.forwardMaxConcurrentRejects.inc();
    },
    tcpConnections(to, open) {
      metrics.tcpConnections.labels(to).set(open);
    },
  };
}
