// node-cache's Corefile generation (cmd/node-cache/app/configmap.go updateCorefile), as text
// substitution on the base file, so that a stock Corefile.base means what it means to node-cache.

import { isIP } from "node:net";
import { DaemonError } from "../errors/index.ts";
import type { KubeDnsConfig } from "./configmap.ts";

export const UPSTREAM_SERVERS_VAR = "__PILLAR__UPSTREAM__SERVERS__";
export const CLUSTER_DNS_VAR = "__PILLAR__CLUSTER__DNS__";
export const LOCAL_DNS_VAR = "__PILLAR__LOCAL__DNS__";
export const DNS_SERVER_VAR = "__PILLAR__DNS__SERVER__";

// node-cache swaps a TCP upstream block for a UDP one when custom upstreams are configured.
const UPSTREAM_TCP_BLOCK = `\n    forward . ${UPSTREAM_SERVERS_VAR} {\n            force_tcp\n    }\n`;
const UPSTREAM_UDP_BLOCK = `\n    forward . ${UPSTREAM_SERVERS_VAR}\n`;

/** Cache TTL of stub-domain blocks (node-cache's defaultTTL). */
export const STUB_DOMAIN_TTL = 30;

/** `UPSTREAMSVC` -> the Kubernetes service environment variable holding its ClusterIP. */
export function serviceHostEnv(service: string): string {
  return `${service.replaceAll("-", "_").toUpperCase()}_SERVICE_HOST`;
}

/** node-cache's stubDomainBlock template; `bind` is left out when there is no -localip. */
export function stubDomainBlock(
  domain: string,
  port: number,
  localIps: readonly string[],
  servers: readonly string[],
): string {
  const bind = localIps.length > 0 ? `    bind ${localIps.join(" ")}\n` : "";
  return `\n${domain}:${port} {\n    errors\n    cache ${STUB_DOMAIN_TTL}\n${bind}    forward . ${servers.join(" ")}\n}\n`;
}

export interface GenerateParams {
  /** The ClusterIP from $<UPSTREAMSVC>_SERVICE_HOST; null when unset. */
  clusterDns: string | null;
  clusterDnsEnv: string;
  localIps: readonly string[];
  /** -dns.port, for stub-domain blocks. */
  port: number;
  kubeDns: KubeDnsConfig;
  /** The node's resolvers, asked for only when needed (kubeDns.upstreamNameservers empty). */
  nodeUpstreams: () => readonly string[];
}

export interface Generated {
  text: string;
  /** What replaced __PILLAR__UPSTREAM__SERVERS__, for the log. */
  upstreamServers: string;
}

export function generateCorefile(base: string, p: GenerateParams): Generated {
  let text = base;
  const custom = p.kubeDns.upstreamNameservers.join(" ");
  let upstreamServers: string;
  if (custom === "") {
    // node-cache writes /etc/resolv.conf here; we write the addresses chosen from it (see upstream.ts).
    upstreamServers = text.includes(UPSTREAM_SERVERS_VAR) ? p.nodeUpstreams().join(" ") : "";
    text = text.replaceAll(UPSTREAM_SERVERS_VAR, upstreamServers);
  } else {
    upstreamServers = custom;
    text = text.replaceAll(UPSTREAM_TCP_BLOCK, UPSTREAM_UDP_BLOCK.replaceAll(UPSTREAM_SERVERS_VAR, custom));
    text = text.replaceAll(UPSTREAM_SERVERS_VAR, custom);
  }
  if (text.includes(CLUSTER_DNS_VAR)) {
    if (p.clusterDns === null || p.clusterDns === "") {
      throw new DaemonError(
        "CONFIG_INVALID",
        `$${p.clusterDnsEnv} is not set: it gives the address that replaces ${CLUSTER_DNS_VAR} (service named by -upstreamsvc)`,
      );
    }
    if (isIP(p.clusterDns) === 0) {
      throw new DaemonError(
        "CONFIG_INVALID",
        `$${p.clusterDnsEnv}="${p.clusterDns}" is not an IP address; it replaces ${CLUSTER_DNS_VAR}`,
      );
    }
    text = text.replaceAll(CLUSTER_DNS_VAR, p.clusterDns);
  }
  text = text.replaceAll(LOCAL_DNS_VAR, p.localIps.join(" "));
  // All listen addresses came from __PILLAR__LOCAL__DNS__; an unsubstituted DNS server goes (ipvs mode).
  text = text.replaceAll(DNS_SERVER_VAR, "");
  // Go ranges over a map in random order; sorted here so the file only changes when the config does.
  const domains = Object.keys(p.kubeDns.stubDomains).sort();
  for (const domain of domains) {
    text += stubDomainBlock(domain, p.port, p.localIps, p.kubeDns.stubDomains[domain]!);
  }
  return { text, upstreamServers };
}
