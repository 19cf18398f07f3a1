// `hosts [FILE [ZONES...]] { INLINE-LINES; ttl SECONDS; no_reverse; reload DURATION; fallthrough [ZONES...] }`
// with CoreDNS's defaults (/etc/hosts, ttl 3600, reload 5s) and its rule that any other line of the
// block is an inline hosts entry (until a `fallthrough` with zones has been read).

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";

export interface HostsConfig {
  /** The hosts file (CoreDNS default /etc/hosts); relative paths resolve from the working directory. */
  path: string;
  /** Zones the plugin answers for (forward names); the block's zones when none are given. */
  zones: string[];
  /** Inline entries, as hosts-file lines. */
  inline: string[];
  ttl: number;
  /** Answer PTR queries for the addresses (CoreDNS's default; `no_reverse` turns it off). */
  reverse: boolean;
  /** How often the file is checked for a change (mtime and size), ms; 0 = never. */
  reloadMs: number;
  /** null = no fallthrough; [] = fallthrough for every zone. */
  fallthrough: string[] | null;
  line: number;
}

export const HOSTS_DEFAULTS = { path: "/etc/hosts", ttl: 3600, reloadMs: 5000 } as const;

const USAGE =
  "hosts [FILE [ZONES...]] { [INLINE] ttl SECONDS; no_reverse; reload DURATION; fallthrough [ZONES...] }";

export function parseHosts(ctx: BuildContext, d: Directive): HostsConfig {
  const r = new Reader(ctx, d, USAGE);
  const path = d.args[0]?.text ?? HOSTS_DEFAULTS.path;
  const zones = d.args.length > 1 ? r.zones(d.args.slice(1)) : ctx.blockZones;
  const config: HostsConfig = {
    path,
    zones,
    inline: [],
    ttl: HOSTS_DEFAULTS.ttl,
    reverse: true,
    reloadMs: HOSTS_DEFAULTS.reloadMs,
    fallthrough: null,
    line: d.line,
  };
  for (const s of r.sub()) {
    switch (s.name) {
      case "fallthrough":
        r.noBlock(s, "fallthrough [ZONES...]");
        config.fallthrough = r.zones(s.args);
        break;
      case "no_reverse":
        r.noBlock(s, "no_reverse");
        r.count(s.args, 0, 0, s.line, "no_reverse", "no_reverse");
        config.reverse = false;
        break;
      case "ttl":
        r.noBlock(s, "ttl SECONDS");
        r.count(s.args, 1, 1, s.line, "ttl SECONDS (1..65535)", "ttl");
        config.ttl = r.int(s.args[0]!, "ttl", "ttl SECONDS (1..65535)", 1, 65535);
        break;
      case "reload":
        r.noBlock(s, "reload DURATION");
        r.count(s.args, 1, 1, s.line, "reload DURATION (0s disables)", "reload");
        config.reloadMs = r.duration(s.args[0]!, "reload", "reload DURATION (0s disables)");
        break;
      default:
        // CoreDNS: an unknown word is an inline entry, unless fallthrough already named zones.
        if (config.fallthrough !== null && config.fallthrough.length > 0) {
          r.unknownSub(s, ["ttl", "no_reverse", "reload", "fallthrough", "an inline hosts line"]);
        }
        if (s.block !== null) r.fail(s.line, `inline entry "${s.name}" takes no { } block`);
        config.inline.push([s.name, ...s.args.map((a) => a.text)].join(" "));
    }
  }
  return config;
}
