// Syntax tree -> Config: server block keys (ZONE[:PORT], one ServerBlock per distinct port), directive
// dispatch with CoreDNS's once-per-block rule, and CoreDNS's check that no zone+port+address is served twice.

import { ConfigError } from "../errors/index.ts";
import { buildCache } from "./dir-cache.ts";
import { buildForward } from "./dir-forward.ts";
import { buildAutopath, buildKubernetes } from "./dir-kubernetes.ts";
import {
  buildBind,
  buildErrors,
  buildExplain,
  buildHealth,
  buildLog,
  buildLoop,
  buildPrometheus,
  buildReady,
  buildReload,
} from "./dir-misc.ts";
import type { Arg, Directive, SyntaxBlock } from "./parser.ts";
import type { BuildContext } from "./reader.ts";
import type { Config, ServerBlock } from "./types.ts";
import { parsePort, zonesOf } from "./values.ts";

export const KNOWN_DIRECTIVES = [
  "autopath",
  "bind",
  "cache",
  "errors",
  "explain",
  "forward",
  "health",
  "kubernetes",
  "log",
  "loop",
  "prometheus",
  "ready",
  "reload",
] as const;

// Other CoreDNS plugins: named as such so the message says "not supported", not "misspelt".
const COREDNS_PLUGINS = new Set(
  (
    "acl any auto azure bufsize cancel chaos clouddns debug dns64 dnssec dnstap erratic etcd file geoip grpc " +
    "header hosts import k8s_external loadbalance local metadata minimal multisocket nomad nsid on pprof " +
    "quic rewrite root route53 secondary sign template timeouts tls trace transfer tsig view whoami"
  ).split(" "),
);

type Blockish = Omit<ServerBlock, "zones" | "port" | "line" | "file">;

export function buildConfig(
  blocks: SyntaxBlock[],
  file: string,
  readFile: (p: string) => string,
  defaultPort = 53,
): Config {
  const out: ServerBlock[] = [];
  for (const sb of blocks) {
    const keys = sb.keys.map((k) => ({ ...parseKey(file, k, defaultPort), line: k.line }));
    const byPort = new Map<number, string[]>();
    for (const k of keys) {
      const zs = byPort.get(k.port) ?? [];
      for (const z of k.zones) {
        if (zs.includes(z))
          throw new ConfigError(file, k.line, `zone ${z}:${k.port} is defined twice in one block`);
        zs.push(z);
      }
      byPort.set(k.port, zs);
    }
    const blockZones = [...new Set(keys.flatMap((k) => k.zones))];
    const body = buildBody({ file, readFile, blockZones }, sb.directives);
    for (const [port, zones] of byPort) out.push({ zones, port, ...body, file, line: sb.line });
  }
  checkListeners(file, out);
  return { file, blocks: out };
}

function parseKey(file: string, k: Arg, defaultPort: number): { zones: string[]; port: number } {
  const fail = (msg: string): never => {
    throw new ConfigError(
      file,
      k.line,
      `server block key "${k.text}": ${msg}; expected ZONE[:PORT], e.g. cluster.local:53 or .:53`,
    );
  };
  let s = k.text;
  const scheme = s.match(/^([A-Za-z][A-Za-z0-9+.-]*):\/\//);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== "dns") fail(`transport ${scheme[1]}:// is not supported (only dns://)`);
    s = s.slice(scheme[0].length);
  }
  let port = defaultPort;
  const colon = s.lastIndexOf(":");
  // The port follows the last colon, but never inside an IPv6 prefix (a prefix's mask comes first).
  if (colon !== -1 && colon > s.indexOf("/")) {
    const p = s.slice(colon + 1);
    port = parsePort(p) ?? fail(`port "${p}" is not a number from 0 to 65535`);
    s = s.slice(0, colon);
  }
  const zones = zonesOf(s) ?? fail(`"${s}" is not a valid zone name or IP prefix`);
  return { zones, port };
}

const ONCE_OK = new Set(["bind"]);

function buildBody(ctx: BuildContext, directives: Directive[]): Blockish {
  const b: Blockish = {
    bind: [],
    errors: null,
    log: null,
    cache: null,
    forward: null,
    prometheus: null,
    health: null,
    ready: null,
    reload: null,
    loop: null,
    kubernetes: null,
    autopath: null,
    explain: null,
  };
  const first = new Map<string, number>();
  for (const d of directives) {
    const known = (KNOWN_DIRECTIVES as readonly string[]).includes(d.name);
    if (!known) unknown(ctx.file, d);
    const prev = first.get(d.name);
    if (prev !== undefined && !ONCE_OK.has(d.name)) {
      throw new ConfigError(
        ctx.file,
        d.line,
        `${d.name}: given twice in one server block (first at line ${prev}); it may appear only once`,
      );
    }
    first.set(d.name, d.line);
    switch (d.name) {
      case "bind":
        for (const a of buildBind(ctx, d)) if (!b.bind.includes(a)) b.bind.push(a);
        break;
      case "errors":
        b.errors = buildErrors(ctx, d);
        break;
      case "log":
        b.log = buildLog(ctx, d);
        break;
      case "cache":
        b.cache = buildCache(ctx, d);
        break;
      case "forward":
        b.forward = buildForward(ctx, d);
        break;
      case "prometheus":
        b.prometheus = buildPrometheus(ctx, d);
        break;
      case "health":
        b.health = buildHealth(ctx, d);
        break;
      case "ready":
        b.ready = buildReady(ctx, d);
        break;
      case "reload":
        b.reload = buildReload(ctx, d);
        break;
      case "loop":
        b.loop = buildLoop(ctx, d);
        break;
      case "kubernetes":
        b.kubernetes = buildKubernetes(ctx, d);
        break;
      case "autopath":
        b.autopath = buildAutopath(ctx, d);
        break;
      case "explain":
        b.explain = buildExplain(ctx, d);
        break;
    }
  }
  if (b.autopath?.source === "@kubernetes" && b.kubernetes === null) {
    throw new ConfigError(
      ctx.file,
      b.autopath.line,
      "autopath: @kubernetes needs a kubernetes directive in the same server block",
    );
  }
  return b;
}

function unknown(file: string, d: Directive): never {
  const list = KNOWN_DIRECTIVES.join(", ");
  if (COREDNS_PLUGINS.has(d.name)) {
    throw new ConfigError(
      file,
      d.line,
      `directive "${d.name}" (a CoreDNS plugin) is not supported by nodelocaldns; known: ${list}`,
    );
  }
  const near = KNOWN_DIRECTIVES.find((k) => editDistance(k, d.name.toLowerCase()) <= 2);
  const hint = near ? `; did you mean "${near}"?` : "";
  throw new ConfigError(file, d.line, `unknown directive "${d.name}"; known: ${list}${hint}`);
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("fowrad"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** CoreDNS validateZonesAndListeningAddresses: one owner per zone+port+address; unbound overlaps bound. */
function checkListeners(file: string, blocks: ServerBlock[]): void {
  const registered = new Map<string, number>();
  const anyAddr = new Map<string, { addr: string; line: number }>();
  for (const b of blocks) {
    const hosts = b.bind.length > 0 ? b.bind : [""];
    for (const zone of b.zones) {
      for (const h of hosts) {
        const name = `${zone}:${b.port}${h ? ` on ${h}` : ""}`;
        const prev = registered.get(`${zone}|${b.port}|${h}`);
        if (prev !== undefined) {
          throw new ConfigError(
            file,
            b.line,
            `zone ${name} is defined twice (first in the block at line ${prev})`,
          );
        }
        const uz = `${zone}|${b.port}`;
        const other = anyAddr.get(uz);
        if (other !== undefined) {
          const unboundPrev = registered.get(`${uz}|`);
          if (h === "" || unboundPrev !== undefined) {
            throw new ConfigError(
              file,
              b.line,
              `zone ${name} overlaps zone ${zone}:${b.port}${other.addr ? ` on ${other.addr}` : ""} (block at line ${other.line}): ` +
                "a block without bind listens on every address; bind both blocks to distinct addresses or merge them",
            );
          }
        }
        registered.set(`${zone}|${b.port}|${h}`, b.line);
        anyAddr.set(uz, { addr: h, line: b.line });
      }
    }
  }
}
