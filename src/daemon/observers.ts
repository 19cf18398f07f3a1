// Adapters from module observer interfaces to Prometheus metrics and the `errors` log.

import type { ForwardObserver } from "../forward/index.ts";
import type { ErrorsLog } from "../log/index.ts";
import type { Metrics } from "../metrics/index.ts";

export function forwardObserver(metrics: Metrics, errors: ErrorsLog | null = null): ForwardObserver {
  return {
    upstreamResult(to, proto, rcode, seconds, detail) {
      if (rcode === "timeout" || rcode === "error") {
        // CoreDNS observes the proxy duration only for replies; failures are counted apart.
        metrics.upstreamFailures.labels(to, proto, rcode).inc();
        // Worded like Go's net errors, so consolidate patterns written for CoreDNS (".* i/o timeout$") match.
        const text =
          rcode === "timeout"
            ? `read ${proto} ${to}: i/o timeout`
            : `${proto} ${to}: exchange failed${detail ? `: ${detail}` : ""}`;
        errors?.report(to, `plugin/forward: ${text}`, { upstream: to, proto, reason: rcode });
        return;
      }
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

/** Self-probe rounds as CoreDNS's health plugin metrics (there: its GET of /health). */
export function healthObserver(metrics: Metrics): (passed: boolean, seconds: number) => void {
  return (passed, seconds) => {
    metrics.healthDuration.observe(seconds);
    if (!passed) metrics.healthFailures.inc();
  };
}
