// The process_* metrics Go's process collector exports (CoreDNS has them; dashboards chart memory
// and CPU with them), read at scrape time. prom-client's default metrics are not used: their
// nodejs_* gauges named *_total fail `promtool check metrics`.

import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, type Registry } from "./prom.ts";

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

function maxFds(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

function virtualMemory(): number {
  try {
    // Fields after the command name (which may contain spaces) of /proc/self/stat; vsize is field 23.
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[20]);
  } catch {
    return 0;
  }
}

export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  let lastCpu = 0;
  new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers,
    collect() {
      const { user, system } = process.cpuUsage();
      const total = (user + system) / 1e6;
      this.inc(Math.max(0, total - lastCpu));
      lastCpu = Math.max(lastCpu, total);
    },
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: "process_virtual_memory_bytes",
    help: "Virtual memory size in bytes.",
    registers,
    collect() {
      this.set(virtualMemory());
    },
  });
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    registers,
    collect() {
      this.set(openFds());
    },
  });
  new Gauge({
    name: "process_max_fds",
    help: "Maximum number of open file descriptors.",
    registers,
    collect() {
      this.set(maxFds());
    },
  });
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
    aggregator: "omit",
    collect() {
      this.set(startSeconds);
    },
  });
}
