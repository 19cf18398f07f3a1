// node-cache compatibility: Corefile generation from -basecorefile, the kube-dns ConfigMap, and the
// node's upstream resolvers.
export {
  type ConfigMapKey,
  type ConfigMapProblem,
  EMPTY_KUBE_DNS_CONFIG,
  type KubeDnsConfig,
  KubeDnsConfigMap,
  MAX_UPSTREAM_NAMESERVERS,
  nameserverProblem,
  parseStubDomains,
  parseUpstreamNameservers,
} from "./configmap.ts";
export {
  CLUSTER_DNS_VAR,
  DNS_SERVER_VAR,
  type Generated,
  type GenerateParams,
  generateCorefile,
  LOCAL_DNS_VAR,
  STUB_DOMAIN_TTL,
  serviceHostEnv,
  stubDomainBlock,
  UPSTREAM_SERVERS_VAR,
} from "./corefile.ts";
export { CorefileGenerator, type GeneratorOptions } from "./generator.ts";
export { isLoopback, type NodeUpstreams, selectNodeUpstreams, type UpstreamPaths } from "./upstream.ts";
