// `whoami` (CoreDNS): answers every query it sees with the client's address and port (handler.ts,
// imported only when a Corefile uses whoami: its replies are built with dns-packet).

import { type BareConfig, parseBare } from "../bare.ts";
import { definePlugin } from "../types.ts";

export type WhoamiConfig = BareConfig;

export const whoamiPlugin = definePlugin<WhoamiConfig>({
  name: "whoami",
  repeatable: false,
  parse: parseBare,
  async load() {
    const { WhoamiPlugin } = await import("./handler.ts");
    return () => new WhoamiPlugin();
  },
});
