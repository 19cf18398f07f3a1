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
  COMMENT_ALLOW_TRAFFIC,
  COMMENT_SKIP_CONNTRACK,
  classifyIptablesError,
  DEFAULT_BACKEND_NAMES,
  describeRule,
  detectBackend,
  type IptablesBinaries,
  type IptablesErrorType,
  IptablesRunner,
  type Rule,
  resolveBackend,
  rulesFor,
} from "./iptables.ts";
export { NodeNetwork, type NodeNetworkOptions, type RulesReport, type SetupErrorType } from "./manager.ts";
