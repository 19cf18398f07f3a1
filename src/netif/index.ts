// Node networking: the link-local interface and node-cache's iptables rules (setup, sync, teardown).

export { commandLine, createExec, type Exec, type ExecResult, mustRun, realExec } from "./exec.ts";
export {
  canonicalIp,
  InterfaceError,
  type InterfaceErrorType,
  type InterfaceStatus,
  type LinkLog,
  LinkManager,
} from "./interface.ts";
export {
  type Backend,
  type BackendNames,
  classifyIptablesError,
  DEFAULT_BACKEND_NAMES,
  detectBackend,
  type IptablesBinaries,
  type IptablesErrorType,
  IptablesRunner,
  resolveBackend,
} from "./iptables.ts";
export { NodeNetwork, type NodeNetworkOptions, type RulesReport, type SetupErrorType } from "./manager.ts";
export { NFT_FALLBACK_MARK, NFT_TABLE, nftTableBody } from "./nftables.ts";
export {
  ALIVE_LIST,
  ALIVE_SECONDS,
  COMMENT_ALIVE,
  COMMENT_ALLOW_TRAFFIC,
  COMMENT_FALLBACK,
  COMMENT_NO_CACHE,
  COMMENT_SKIP_CONNTRACK,
  describeRule,
  obsoleteRulesFor,
  type Rule,
  rulesFor,
} from "./rules.ts";
