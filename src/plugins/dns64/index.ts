// The `dns64` plugin: its table entry and CoreDNS's metric coredns_dns64_requests_translated_total.
// The handler (and dns-packet behind it) is imported only when a Corefile uses dns64.

import { Counter, registered } from "../../metrics/prom.ts";
import { definePlugin } from "../types.ts";
import { type Dns64Config, parseDns64 } from "./parse.ts";

export { synthesize } from "./translate.ts";

export const dns64Plugin = definePlugin<Dns64Config>({
  name: "dns64",
  repeatable: false,
  parse: parseDns64,
  async load() {
    const { Dns64Plugin } = await import("./handler.ts");
    return ([config], env) => {
      const registry = env.metrics.registry;
      const name = "coredns_dns64_requests_translated_total";
      const translated = registered(
        registry,
        name,
        () =>
          new Counter({
            name,
            help: "Counter of DNS requests translated by dns64.",
            labelNames: ["server"],
            registers: [registry],
          }),
      );
      const counter = translated.labels(env.server);
      return new Dns64Plugin(config!, () => counter.inc());
    };
  },
});
