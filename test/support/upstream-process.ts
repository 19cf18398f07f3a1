// One DNS server program run as a test upstream: started, waited for until it answers, stopped and
// restarted on the same address, with its query log readable.

import { waitForDns } from "./client.ts";
import { hostPort } from "./ports.ts";
import { type Proc, spawnProc } from "./proc.ts";
import { type LoggedQuery, type QueryLog, queryLogReader } from "./querylog.ts";

export interface Upstream extends QueryLog {
  host: string;
  port: number;
  readonly pid: number;
  /** `host:port` or `[::1]:port`. */
  readonly address: string;
  readonly configFile: string;
  stop(): Promise<void>;
  /** Stops and starts again on the same address and config (query log kept). */
  restart(): Promise<void>;
  output(): string;
}

export interface UpstreamProcess {
  label: string;
  command: string;
  args: string[];
  dir: string;
  host: string;
  port: number;
  configFile: string;
  logFile: string;
  parseLog: (line: string) => LoggedQuery | null;
  watchdog?: boolean;
}

export async function runUpstream(o: UpstreamProcess): Promise<Upstream> {
  const launch = async (): Promise<Proc> => {
    const p = spawnProc(o.command, o.args, { cwd: o.dir, label: o.label, watchdog: o.watchdog ?? false });
    try {
      await waitForDns({ host: o.host, port: o.port }, 10_000, p.isRunning);
    } catch (err) {
      await p.stop("SIGKILL");
      throw new Error(
        `${o.label} did not start on ${hostPort(o.host, o.port)}: ${String(err)}\n${p.output()}`,
      );
    }
    return p;
  };
  let proc = await launch();
  return {
    ...queryLogReader(o.logFile, o.parseLog),
    host: o.host,
    port: o.port,
    get pid() {
      return proc.pid;
    },
    address: hostPort(o.host, o.port),
    configFile: o.configFile,
    async stop() {
      await proc.stop("SIGTERM", 3000);
    },
    async restart() {
      await proc.stop("SIGTERM", 3000);
      proc = await launch();
    },
    output: () => proc.output(),
  };
}
