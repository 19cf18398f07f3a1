// `timeouts { read DURATION; write DURATION; idle DURATION }` (CoreDNS): the TCP server's timeouts
// for the block's listeners. Each between 1s and 24h; at least one must be given.

import { type BuildContext, type Directive, Reader } from "../../config/for-plugins.ts";
import type { TcpTimeouts } from "../../server/index.ts";
import { definePlugin } from "../types.ts";

export interface TimeoutsConfig extends TcpTimeouts {
  line: number;
}

const USAGE = "timeouts { read DURATION; write DURATION; idle DURATION }";
const OPTIONS = ["read", "write", "idle"];

export function parseTimeouts(ctx: BuildContext, d: Directive): TimeoutsConfig {
  const r = new Reader(ctx, d, USAGE);
  r.count(d.args, 0, 0, d.line);
  const config: TimeoutsConfig = { readMs: 0, writeMs: 0, idleMs: 0, line: d.line };
  const subs = r.sub();
  if (subs.length === 0)
    r.fail(d.line, "a timeouts block with no timeouts; give at least one of read, write, idle");
  for (const s of subs) {
    if (s.name === "maxtcpqueries")
      r.fail(s.line, 'option "maxtcpqueries" is not supported by nodelocaldns', null);
    if (!OPTIONS.includes(s.name)) r.unknownSub(s, OPTIONS);
    const usage = `${s.name} DURATION (1s..24h)`;
    r.noBlock(s, usage);
    r.count(s.args, 1, 1, s.line, usage, s.name);
    const ms = r.duration(s.args[0]!, s.name, usage, 1000, 86_400_000);
    if (s.name === "read") config.readMs = ms;
    else if (s.name === "write") config.writeMs = ms;
    else config.idleMs = ms;
  }
  return config;
}

export const timeoutsPlugin = definePlugin<TimeoutsConfig>({
  name: "timeouts",
  repeatable: false,
  parse: parseTimeouts,
});
