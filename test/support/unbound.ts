// A real unbound on loopback that answers only from local-zone/local-data: it never recurses to the
// internet (root refused, a forward-zone to a closed loopback port, outgoing sockets bound to loopback).

import { writeFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import type { Server } from "./client.ts";
import { assertLoopback, freePort } from "./ports.ts";
import type { LoggedQuery } from "./querylog.ts";
import { tempDir } from "./tmp.ts";
import { runUpstream, type Upstream } from "./upstream-process.ts";

export const UNBOUND = "/usr/sbin/unbound";

export type LocalZoneType =
  | "deny"
  | "refuse"
  | "static"
  | "transparent"
  | "typetransparent"
  | "redirect"
  | "inform"
  | "always_transparent"
  | "always_refuse"
  | "always_nxdomain"
  | "always_nodata"
  | "nodefault";

export interface UnboundOptions {
  host: string;
  /** Free port when omitted. */
  port?: number;
  /** local-data RRs in zone-file syntax, e.g. `a.example.test. 300 IN A 10.0.0.1`. */
  records?: string[];
  /**
   * local-zone declarations. When omitted, every SOA in `records` makes a `static` zone at its owner
   * (NXDOMAIN/NODATA with that SOA). Names outside any zone get the root zone's answer.
   */
  zones?: { name: string; type: LocalZoneType }[];
  /** What names outside every configured zone get: REFUSED (default) or NXDOMAIN without SOA. */
  rootZone?: "refuse" | "static";
  /**
   * Loopback-only servers to forward everything not answered locally to (unbound as a caching
   * forwarder, e.g. for benches). When given, `rootZone` is not applied.
   */
  forward?: Server[];
  /** Raw lines appended to the `server:` clause (may open further clauses). */
  extraConfig?: string;
  verbosity?: number;
  /** Also serve DNS over TLS (RFC 7858) on `port` of the same address with this certificate. */
  tls?: { port: number; certFile: string; keyFile: string };
}

export type { Upstream } from "./upstream-process.ts";

function q(s: string): string {
  return s.includes('"') ? `'${s}'` : `"${s}"`;
}

export function unboundConfig(o: UnboundOptions & { port: number; dir: string; logFile: string }): string {
  const v6 = isIPv6(o.host);
  const records = o.records ?? [];
  const zones =
    o.zones ??
    records
      .map((r) => r.trim().split(/\s+/))
      .filter((f) => f.slice(1, 4).includes("SOA"))
      .map((f) => ({ name: f[0]!, type: "static" as LocalZoneType }));
  const lines = [
    "server:",
    `  interface: ${o.host}@${o.port}`,
    `  port: ${o.port}`,
    `  do-ip4: ${v6 ? "no" : "yes"}`,
    `  do-ip6: ${v6 ? "yes" : "no"}`,
    "  do-udp: yes",
    "  do-tcp: yes",
    "  access-control: 127.0.0.0/8 allow",
    "  access-control: ::1/128 allow",
    `  outgoing-interface: ${v6 ? "::1" : "127.0.0.1"}`,
    '  chroot: ""',
    '  username: ""',
    `  directory: "${o.dir}"`,
    '  pidfile: ""',
    `  logfile: "${o.logFile}"`,
    "  use-syslog: no",
    "  log-queries: yes",
    `  verbosity: ${o.verbosity ?? 1}`,
    '  module-config: "iterator"',
    '  auto-trust-anchor-file: ""',
    '  trust-anchor-file: ""',
    "  do-not-query-localhost: no",
    "  num-threads: 1",
    "  incoming-num-tcp: 1000",
    "  so-reuseport: no",
  ];
  if (o.tls) {
    lines.push(
      `  interface: ${o.host}@${o.tls.port}`,
      `  tls-port: ${o.tls.port}`,
      `  tls-service-pem: "${o.tls.certFile}"`,
      `  tls-service-key: "${o.tls.keyFile}"`,
    );
  }
  if (!o.forward) {
    // Misses in transparent zones go to the closed forward port: fail fast instead of retrying for long.
    lines.push("  infra-cache-max-rtt: 100", "  outbound-msg-retry: 0", "  udp-connect: yes");
    lines.push(`  local-zone: "." ${o.rootZone ?? "refuse"}`);
  }
  for (const z of zones) lines.push(`  local-zone: ${q(z.name)} ${z.type}`);
  for (const r of records) lines.push(`  local-data: ${q(r)}`);
  if (o.extraConfig) lines.push(o.extraConfig);
  lines.push("remote-control:", "  control-enable: no", "forward-zone:", '  name: "."');
  if (o.forward) {
    for (const s of o.forward) {
      assertLoopback(s.host);
      lines.push(`  forward-addr: ${s.host}@${s.port}`);
    }
  } else {
    // Port 9 (discard) on loopback: nothing listens, so the kernel refuses at once.
    lines.push(`  forward-addr: ${v6 ? "::1" : "127.0.0.1"}@9`);
  }
  return `${lines.join("\n")}\n`;
}

const UNBOUND_LOG = / info: ([0-9a-fA-F.:]+) (\S+) (\S+) (\S+)$/;

function parseUnboundLine(line: string): LoggedQuery | null {
  const m = UNBOUND_LOG.exec(line);
  return m ? { client: m[1]!, name: m[2]!, type: m[3]! } : null;
}

export async function startUnbound(opts: UnboundOptions): Promise<Upstream> {
  assertLoopback(opts.host);
  const port = opts.port ?? (await freePort(opts.host));
  const dir = await tempDir("nldns-unbound-");
  const logFile = join(dir, "unbound.log");
  const configFile = join(dir, "unbound.conf");
  await writeFile(configFile, unboundConfig({ ...opts, port, dir, logFile }));

  return runUpstream({
    label: "unbound",
    command: UNBOUND,
    args: ["-d", "-c", configFile],
    dir,
    host: opts.host,
    port,
    configFile,
    logFile,
    parseLog: parseUnboundLine,
  });
}
