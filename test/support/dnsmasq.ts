// A real dnsmasq on loopback answering only its own records: --no-resolv, --no-hosts, no --server
// (unless loopback `servers` are given for benches).

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Server } from "./client.ts";
import { assertLoopback, freePort } from "./ports.ts";
import type { LoggedQuery } from "./querylog.ts";
import { tempDir } from "./tmp.ts";
import { runUpstream, type Upstream } from "./upstream-process.ts";

export const DNSMASQ = "/usr/sbin/dnsmasq";

export interface DnsmasqOptions {
  host: string;
  port?: number;
  /** --host-record: A and/or AAAA (and PTR) for `name`. */
  hosts?: { name: string; ipv4?: string; ipv6?: string; ttl?: number }[];
  /** --address=/domain/ip: the domain and everything under it. */
  addresses?: { domain: string; ip: string }[];
  /** --txt-record: one TXT RR with these strings. */
  txt?: { name: string; strings: string[] }[];
  /** --srv-host. */
  srv?: { name: string; target: string; port: number; priority?: number; weight?: number }[];
  /** --cname. */
  cnames?: { alias: string; target: string; ttl?: number }[];
  /** --mx-host. */
  mx?: { name: string; host: string; preference?: number }[];
  /** --local=/domain/: unknown names under these get NXDOMAIN (others get REFUSED). */
  localDomains?: string[];
  /** --local-ttl (default 0 in dnsmasq). */
  localTtl?: number;
  /** --neg-ttl. */
  negTtl?: number;
  /** --cache-size. */
  cacheSize?: number;
  /** Loopback-only upstreams (--server=host#port); none by default. */
  servers?: Server[];
  extraArgs?: string[];
}

function quoteStr(s: string): string {
  return `"${s.replace(/(["\\])/g, "\\$1")}"`;
}

/**
 * The options as command-line flags. startDnsmasq writes them (without `--`) to a config file, because
 * dnsmasq honours quotes (TXT strings with commas) only there.
 */
export function dnsmasqArgs(o: DnsmasqOptions & { port: number; logFile: string }): string[] {
  const a = [
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--no-poll",
    `--listen-address=${o.host}`,
    `--port=${o.port}`,
    "--bind-interfaces",
    "--log-queries",
    `--log-facility=${o.logFile}`,
    "--pid-file=",
    "--user=root",
  ];
  for (const h of o.hosts ?? []) {
    const parts = [h.name, h.ipv4, h.ipv6, h.ttl === undefined ? undefined : String(h.ttl)].filter(Boolean);
    a.push(`--host-record=${parts.join(",")}`);
  }
  for (const x of o.addresses ?? []) a.push(`--address=/${x.domain}/${x.ip}`);
  for (const t of o.txt ?? []) a.push(`--txt-record=${[t.name, ...t.strings.map(quoteStr)].join(",")}`);
  for (const s of o.srv ?? []) {
    a.push(`--srv-host=${s.name},${s.target},${s.port},${s.priority ?? 0},${s.weight ?? 0}`);
  }
  for (const c of o.cnames ?? []) {
    a.push(`--cname=${c.alias},${c.target}${c.ttl === undefined ? "" : `,${c.ttl}`}`);
  }
  for (const m of o.mx ?? []) a.push(`--mx-host=${m.name},${m.host},${m.preference ?? 10}`);
  for (const d of o.localDomains ?? []) a.push(`--local=/${d}/`);
  if (o.localTtl !== undefined) a.push(`--local-ttl=${o.localTtl}`);
  if (o.negTtl !== undefined) a.push(`--neg-ttl=${o.negTtl}`);
  if (o.cacheSize !== undefined) a.push(`--cache-size=${o.cacheSize}`);
  for (const s of o.servers ?? []) {
    assertLoopback(s.host);
    a.push(`--server=${s.host}#${s.port}`);
  }
  return a;
}

const DNSMASQ_LOG = /dnsmasq\[\d+\]: query\[(\S+)\] (\S+) from (\S+)/;

function parseDnsmasqLine(line: string): LoggedQuery | null {
  const m = DNSMASQ_LOG.exec(line);
  return m ? { client: m[3]!, name: m[2]!, type: m[1]! } : null;
}

export async function startDnsmasq(opts: DnsmasqOptions): Promise<Upstream> {
  assertLoopback(opts.host);
  const port = opts.port ?? (await freePort(opts.host));
  const dir = await tempDir("nldns-dnsmasq-");
  const logFile = join(dir, "dnsmasq.log");
  const configFile = join(dir, "dnsmasq.conf");
  const lines = dnsmasqArgs({ ...opts, port, logFile }).map((a) => a.slice(2));
  await writeFile(configFile, `${lines.join("\n")}\n`);
  const args = [`--conf-file=${configFile}`, ...(opts.extraArgs ?? [])];

  return runUpstream({
    label: "dnsmasq",
    command: DNSMASQ,
    args,
    dir,
    host: opts.host,
    port,
    configFile,
    logFile,
    parseLog: parseDnsmasqLine,
    watchdog: true,
  });
}
