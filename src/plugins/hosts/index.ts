// The `hosts` plugin: its table entry (parse + handler), metrics as CoreDNS names them. The handler
// (and dns-packet behind it) is imported only when a Corefile uses hosts.

import { Gauge, registered } from "../../metrics/prom.ts";
import { definePlugin, type PluginEnv } from "../types.ts";
import { type HostsConfig, parseHosts } from "./parse.ts";

function hostsMetrics(env: PluginEnv) {
  const registry = env.metrics.registry;
  const entries = registered(
    registry,
    "coredns_hosts_entries",
    () =>
      new Gauge({
        name: "coredns_hosts_entries",
        help: "The combined number of entries in hosts and Corefile.",
        labelNames: ["hostsfile"],
        registers: [registry],
      }),
  );
  const reloaded = registered(
    registry,
    "coredns_hosts_reload_timestamp_seconds",
    () =>
      new Gauge({
        name: "coredns_hosts_reload_timestamp_seconds",
        help: "The timestamp of the last reload of hosts file.",
        registers: [registry],
      }),
  );
  return { entries, reloaded };
}

export const hostsPlugin = definePlugin<HostsConfig>({
  name: "hosts",
  repeatable: false,
  parse: parseHosts,
  async load() {
    const { HostsPlugin } = await import("./handler.ts");
    return ([config], env) => {
      const m = hostsMetrics(env);
      const c = config!;
      return new HostsPlugin(c, {
        loaded: (entries, mtimeSec) => {
          m.entries.labels(c.path).set(entries);
          m.reloaded.set(mtimeSec);
        },
        failed: (error) => env.log.warn({ err: error, file: c.path }, "hosts: cannot read the hosts file"),
      });
    };
  },
});
