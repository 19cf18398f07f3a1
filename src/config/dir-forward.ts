// `forward FROM TO... { ... }` as CoreDNS's plugin/forward/setup.go. TO is IP, IP:PORT, [IPv6]:PORT,
// dns://..., or a resolv.conf path (starting with / or .) whose nameservers become upstreams on port 53.

import { X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type { Arg, Directive } from "./parser.ts";
import { type BuildContext, placeholderHint, Reader } from "./reader.ts";
import { parseResolvConf } from "./resolvconf.ts";
import type { ForwardConfig, ForwardPolicy, ForwardTlsConfig, UpstreamAddress } from "./types.ts";
import { isIpLiteral, normalizeName, parsePort, stripZone, zonesOf } from "./values.ts";

const USAGE = "forward FROM TO... [{ ... }]";
const OPTIONS = [
  "except",
  "force_tcp",
  "prefer_udp",
  "max_fails",
  "expire",
  "policy",
  "health_check",
  "max_concurrent",
  "tls",
  "tls_servername",
];
export const MAX_UPSTREAMS = 15;
const TO_FORMS =
  "IP, IP:PORT, [IPv6]:PORT, dns://IP[:PORT], tls://IP[:PORT], or a resolv.conf path starting with / or .";

/** What `forward FROM TO...` means with no options (CoreDNS's defaults). */
export const FORWARD_DEFAULTS: Readonly<Omit<ForwardConfig, "from" | "to" | "line">> = Object.freeze({
  except: [],
  forceTcp: false,
  preferUdp: false,
  maxFails: 2,
  expireMs: 10_000,
  policy: "random",
  healthCheckMs: 500,
  healthCheckNoRec: false,
  healthCheckDomain: ".",
  maxConcurrent: 0,
});

export function buildForward(ctx: BuildContext, d: Directive): ForwardConfig {
  const r: Reader = new Reader(ctx, d, USAGE);
  r.count(d.args, 2, -1, d.line);
  const fromArg = d.args[0]!;
  const from = zonesOf(fromArg.text)?.[0];
  if (from === undefined) r.fail(fromArg.line, `FROM "${fromArg.text}" is not a valid domain name`);
  const to: UpstreamAddress[] = [];
  for (const a of d.args.slice(1)) to.push(...upstreams(r, a));
  if (to.length > MAX_UPSTREAMS) {
    r.fail(d.line, `${to.length} upstreams configured; at most ${MAX_UPSTREAMS} are allowed`, null);
  }
  const f: ForwardConfig = { ...FORWARD_DEFAULTS, from, to, except: [], line: d.line };
  let forceLine = 0;
  let preferLine = 0;
  for (const s of r.sub()) {
    const u = subUsage(s.name);
    if (!OPTIONS.includes(s.name)) r.unknownSub(s, OPTIONS);
    r.noBlock(s, u);
    const a0 = s.args[0];
    switch (s.name) {
      case "except":
        r.count(s.args, 1, -1, s.line, u, "except");
        for (const z of r.zones(s.args, "except zone")) if (!f.except.includes(z)) f.except.push(z);
        break;
      case "force_tcp":
      case "prefer_udp":
        r.count(s.args, 0, 0, s.line, u, s.name);
        if (s.name === "force_tcp") {
          f.forceTcp = true;
          forceLine = s.line;
        } else {
          f.preferUdp = true;
          preferLine = s.line;
        }
        break;
      case "max_fails":
        r.count(s.args, 1, 1, s.line, u, "max_fails");
        f.maxFails = r.int(a0!, "max_fails", u, 0, 0xffffffff);
        break;
      case "expire":
        r.count(s.args, 1, 1, s.line, u, "expire");
        f.expireMs = r.duration(a0!, "expire", u);
        break;
      case "policy":
        r.count(s.args, 1, 1, s.line, u, "policy");
        if (!["random", "round_robin", "sequential"].includes(a0!.text)) {
          r.fail(a0!.line, `unknown policy "${a0!.text}"`, u);
        }
        f.policy = a0!.text as ForwardPolicy;
        break;
      case "health_check":
        healthCheck(r, s, f);
        break;
      case "max_concurrent":
        r.count(s.args, 1, 1, s.line, u, "max_concurrent");
        f.maxConcurrent = r.int(a0!, "max_concurrent", u, 0);
        break;
      case "tls":
        f.tls = { ...tlsFiles(r, s), ...(f.tls?.serverName ? { serverName: f.tls.serverName } : {}) };
        break;
      case "tls_servername":
        r.count(s.args, 1, 1, s.line, u, "tls_servername");
        f.tls = { ...f.tls, serverName: a0!.text };
        break;
    }
  }
  if (f.forceTcp && f.preferUdp) {
    r.fail(Math.max(forceLine, preferLine), "force_tcp and prefer_udp cannot both be set; choose one", null);
  }
  return f;
}

function subUsage(name: string): string {
  switch (name) {
    case "except":
      return "except ZONE...";
    case "max_fails":
      return "max_fails N (0 disables)";
    case "expire":
      return "expire DURATION";
    case "policy":
      return "policy random|round_robin|sequential";
    case "health_check":
      return "health_check DURATION [no_rec] [domain NAME]";
    case "max_concurrent":
      return "max_concurrent N";
    case "tls":
      return "tls [CERT KEY] [CA]";
    case "tls_servername":
      return "tls_servername NAME";
    default:
      return name;
  }
}

function healthCheck(r: Reader, s: Directive, f: ForwardConfig): void {
  const u = subUsage("health_check");
  r.count(s.args, 1, 4, s.line, u, "health_check");
  f.healthCheckMs = r.duration(s.args[0]!, "health_check interval", u);
  for (let i = 1; i < s.args.length; i++) {
    const a = s.args[i]!;
    if (a.text === "no_rec") {
      f.healthCheckNoRec = true;
    } else if (a.text === "domain") {
      const name = s.args[++i];
      if (name === undefined) r.fail(a.line, "health_check domain needs a NAME", u);
      const z = normalizeName(name.text);
      if (z === null) r.fail(name.line, `health_check domain "${name.text}" is not a valid domain name`, u);
      f.healthCheckDomain = z;
    } else {
      r.fail(a.line, `unknown health_check option "${a.text}"`, u);
    }
  }
}

/**
 * `tls` (system roots), `tls CA`, `tls CERT KEY` (client certificate, system roots) or
 * `tls CERT KEY CA`, as CoreDNS's pkg/tls NewTLSConfigFromArgs; the files are read and checked now.
 */
function tlsFiles(r: Reader, s: Directive): ForwardTlsConfig {
  const u = subUsage("tls");
  r.count(s.args, 0, 3, s.line, u, "tls");
  const read = (a: Arg, what: string): string => {
    try {
      return r.ctx.readFile(a.text);
    } catch (e) {
      return r.fail(a.line, `cannot read the ${what} file "${a.text}": ${(e as Error).message}`, u);
    }
  };
  const [a, b, c] = s.args;
  const out: ForwardTlsConfig = {};
  if (s.args.length >= 2) {
    out.cert = read(a!, "certificate");
    out.key = read(b!, "key");
  }
  const ca = s.args.length === 1 ? a : c;
  if (ca !== undefined) out.ca = read(ca, "CA");
  try {
    // createSecureContext accepts a CA file without any certificate in it; X509Certificate does not.
    if (out.ca !== undefined) new X509Certificate(out.ca);
    // node:tls only for a `tls` option (about 1 MB a plain Corefile does not need).
    (createRequire(import.meta.url)("node:tls") as typeof import("node:tls")).createSecureContext(out);
  } catch (e) {
    r.fail(
      s.line,
      `the files ${s.args.map((x) => `"${x.text}"`).join(" ")} are not usable: ${(e as Error).message}`,
      u,
    );
  }
  return out;
}

function upstreams(r: Reader, a: Arg): UpstreamAddress[] {
  let s = a.text;
  let tls = false;
  const scheme = s.match(/^([A-Za-z][A-Za-z0-9+.-]*):\/\//);
  if (scheme) {
    tls = scheme[1]!.toLowerCase() === "tls";
    if (scheme[1]!.toLowerCase() !== "dns" && !tls) {
      r.fail(
        a.line,
        `upstream "${s}": transport ${scheme[1]}:// is not supported; expected ${TO_FORMS}`,
        null,
      );
    }
    s = s.slice(scheme[0].length);
  } else if (s.startsWith("/") || s.startsWith(".")) {
    return fromResolvConf(r, a);
  }
  const bad = (why: string): never =>
    r.fail(a.line, `upstream "${a.text}" ${why}${placeholderHint(a.text)}; expected ${TO_FORMS}`, null);
  let host: string;
  let port = tls ? 853 : 53;
  const br = s.match(/^\[([^\]]+)\](?::(.*))?$/);
  if (br) {
    host = br[1]!;
    if (isIP(stripZone(host)) !== 6) bad("has no IPv6 address in brackets");
    if (br[2] !== undefined) port = parsePort(br[2]) ?? bad(`has a bad port "${br[2]}"`);
  } else if (isIpLiteral(s)) {
    host = s;
  } else {
    const c = s.lastIndexOf(":");
    if (c === -1) bad("is not an IP address");
    host = s.slice(0, c);
    if (isIP(host) !== 4) bad("is not an IP address");
    const p = s.slice(c + 1);
    port = parsePort(p) ?? bad(`has a bad port "${p}"`);
  }
  if (port === 0) bad("has port 0");
  return [tls ? { host, port, tls } : { host, port }];
}

function fromResolvConf(r: Reader, a: Arg): UpstreamAddress[] {
  let text: string;
  try {
    text = r.ctx.readFile(a.text);
  } catch (e) {
    r.fail(a.line, `cannot read resolv.conf "${a.text}": ${(e as Error).message}`, null);
  }
  const ns = parseResolvConf(text).nameservers;
  if (ns.length === 0) r.fail(a.line, `no nameserver lines found in "${a.text}"`, null);
  return ns.map((host) => ({ host, port: 53 }));
}
