// Integration-test support: real upstreams (unbound, dnsmasq), a programmable fake, clients (dig and
// pure Node) and the daemon runner. Everything started here is stopped by cleanupAll() or at exit.

export { cleanupAll, onCleanup } from "./cleanup.ts";
export { type CliRun, cli } from "./cli.ts";
export {
  type EncodeOptions,
  encodeQuery,
  exchange,
  type QueryOptions,
  type QueryResult,
  QueryTimeoutError,
  query,
  rcodeOf,
  type Server,
  tcpPipeline,
  waitForDns,
} from "./client.ts";
export {
  type Daemon,
  type DaemonOptions,
  daemonEntry,
  PROJECT_ROOT,
  startDaemon,
} from "./daemon.ts";
export { DigError, type DigOptions, type DigResult, dig, parseDig, type Rr } from "./dig.ts";
export { type DnsmasqOptions, startDnsmasq } from "./dnsmasq.ts";
export {
  defaultHandler,
  type FakeContext,
  type FakeHandler,
  type FakeReply,
  type FakeUpstream,
  type ReplyOptions,
  reply,
  startFakeUpstream,
} from "./fake-upstream.ts";
export { assertLoopback, freePort, hostPort, uniqueLoopback } from "./ports.ts";
export { childPids, type ExitInfo, type Proc, spawnProc } from "./proc.ts";
export { type LoggedQuery, PROBE_NAME, type QueryLog } from "./querylog.ts";
export { largeTxtRecords, soaRecord } from "./records.ts";
export { type Issued, makeTestCa, type TestCa } from "./tls-ca.ts";
export { tempDir } from "./tmp.ts";
export {
  type LocalZoneType,
  startUnbound,
  type UnboundOptions,
  type Upstream,
  unboundConfig,
} from "./unbound.ts";
