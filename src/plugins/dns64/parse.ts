// `dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }` as CoreDNS's plugin/dns64/setup.go:
// default prefix 64:ff9b::/96 (RFC 6052's well-known prefix); lengths 32, 40, 48, 56, 64 or 96.

import { isIP } from "node:net";
import { type Arg, type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import { ipv6Bytes } from "./translate.ts";

export interface Dns64Config {
  /** The prefix's 16 bytes (only the first `prefixLength / 8` matter). */
  prefix: readonly number[];
  prefixLength: number;
  /** Text of the prefix as written, for messages and logs. */
  prefixText: string;
  /** Synthesize even when the name has AAAA records. */
  translateAll: boolean;
  /** Also translate for clients that asked over IPv4 (CoreDNS: IPv6 clients only by default). */
  allowIpv4: boolean;
  line: number;
}

const USAGE = "dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }";
export const DEFAULT_DNS64_PREFIX = "64:ff9b::/96";

export function parseDns64(ctx: BuildContext, d: Directive): Dns64Config {
  const r = new Reader(ctx, d, USAGE);
  r.count(d.args, 0, 1, d.line);
  const config: Dns64Config = {
    ...prefixOf(r, null),
    translateAll: false,
    allowIpv4: false,
    line: d.line,
  };
  if (d.args[0] !== undefined) Object.assign(config, prefixOf(r, d.args[0]));
  for (const s of r.sub()) {
    r.noBlock(s, s.name);
    switch (s.name) {
      case "prefix":
        r.count(s.args, 1, 1, s.line, "prefix PREFIX", "prefix");
        Object.assign(config, prefixOf(r, s.args[0]!));
        break;
      case "translate_all":
      case "allow_ipv4":
        r.count(s.args, 0, 0, s.line, s.name, s.name);
        if (s.name === "translate_all") config.translateAll = true;
        else config.allowIpv4 = true;
        break;
      default:
        r.unknownSub(s, ["prefix", "translate_all", "allow_ipv4"]);
    }
  }
  return config;
}

function prefixOf(r: Reader, a: Arg | null): Pick<Dns64Config, "prefix" | "prefixLength" | "prefixText"> {
  const text = a?.text ?? DEFAULT_DNS64_PREFIX;
  const line = a?.line ?? r.d.line;
  const slash = text.indexOf("/");
  const addr = slash < 0 ? "" : text.slice(0, slash);
  const length = slash < 0 ? Number.NaN : Number(text.slice(slash + 1));
  if (isIP(addr) !== 6 || !/^\d+$/.test(text.slice(slash + 1))) {
    r.fail(line, `PREFIX "${text}" is not an IPv6 prefix (ADDRESS/LENGTH, e.g. ${DEFAULT_DNS64_PREFIX})`);
  }
  if (length % 8 !== 0 || length < 32 || length > 96) {
    r.fail(line, `PREFIX "${text}": the length must be 32, 40, 48, 56, 64 or 96 (RFC 6052), got ${length}`);
  }
  const bytes = ipv6Bytes(addr);
  // Go's ParseCIDR masks the host bits; so do we.
  for (let i = length / 8; i < 16; i++) bytes[i] = 0;
  return { prefix: bytes, prefixLength: length, prefixText: text };
}
