// node-cache's command-line flags (Go flag syntax: -name value, -name=value, one or two dashes).

import { parseDuration } from "../config/index.ts";
import { FlagError } from "../errors/index.ts";

export interface Flags {
  localip: string[];
  conf: string | null;
  basecorefile: string;
  upstreamsvc: string;
  kubednscm: string;
  setupinterface: boolean;
  interfacename: string;
  setupiptables: boolean;
  skipteardown: boolean;
  syncintervalMs: number;
  healthPort: number;
  metricsListenAddress: string;
  pidfile: string | null;
  dnsPort: number;
  workers: "auto" | number;
  version: boolean;
  help: boolean;
}

type Kind = "string" | "bool" | "duration" | "port" | "list" | "workers";

interface FlagSpec {
  name: string;
  kind: Kind;
  help: string;
  default: string;
}

export const FLAG_SPECS: readonly FlagSpec[] = [
  {
    name: "localip",
    kind: "list",
    default: "",
    help: "comma-separated IP addresses to listen on and put on the interface",
  },
  {
    name: "conf",
    kind: "string",
    default: "",
    help: "Corefile to serve (generated from -basecorefile when that exists)",
  },
  {
    name: "basecorefile",
    kind: "string",
    default: "/etc/coredns/Corefile.base",
    help: "template Corefile with __PILLAR__ placeholders",
  },
  {
    name: "upstreamsvc",
    kind: "string",
    default: "kube-dns",
    help: "service whose <NAME>_SERVICE_HOST replaces __PILLAR__CLUSTER__DNS__",
  },
  {
    name: "kubednscm",
    kind: "string",
    default: "/etc/kube-dns",
    help: "directory of the kube-dns ConfigMap (stubDomains, upstreamNameservers)",
  },
  { name: "setupinterface", kind: "bool", default: "true", help: "create the interface carrying -localip" },
  { name: "interfacename", kind: "string", default: "nodelocaldns", help: "name of that interface" },
  { name: "setupiptables", kind: "bool", default: "true", help: "install the NOTRACK/ACCEPT iptables rules" },
  {
    name: "skipteardown",
    kind: "bool",
    default: "false",
    help: "leave the interface and rules in place on exit",
  },
  {
    name: "syncinterval",
    kind: "duration",
    default: "60s",
    help: "how often interface and rules are re-checked",
  },
  {
    name: "health-port",
    kind: "port",
    default: "8080",
    help: "port of the health endpoint (for its NOTRACK rules)",
  },
  {
    name: "metrics-listen-address",
    kind: "string",
    default: "0.0.0.0:9353",
    help: "address for node-cache's own metrics",
  },
  { name: "pidfile", kind: "string", default: "", help: "write the process ID to this file" },
  { name: "dns.port", kind: "port", default: "53", help: "DNS port for the iptables rules" },
  {
    name: "workers",
    kind: "workers",
    default: "1",
    help: "serving processes: a number or auto (one per usable CPU)",
  },
  { name: "version", kind: "bool", default: "false", help: "print the version and exit" },
  { name: "help", kind: "bool", default: "false", help: "print this help and exit" },
];

function convert(spec: FlagSpec, value: string): unknown {
  const bad = (allowed: string) =>
    new FlagError(`flag -${spec.name}: invalid value "${value}"; expected ${allowed}`);
  switch (spec.kind) {
    case "string":
      return value;
    case "list":
      return value === ""
        ? []
        : value
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "");
    case "bool": {
      const v = value.toLowerCase();
      if (["1", "t", "true"].includes(v)) return true;
      if (["0", "f", "false"].includes(v)) return false;
      throw bad("true or false");
    }
    case "duration": {
      const ms = parseDuration(value);
      if (ms === null || ms <= 0) throw bad("a positive duration such as 60s, 1m or 500ms");
      return ms;
    }
    case "port": {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw bad("a port number from 1 to 65535");
      return n;
    }
    case "workers": {
      if (value === "auto") return "auto";
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 1 || n > 256) throw bad("auto or a whole number from 1 to 256");
      return n;
    }
  }
}

export function parseFlags(argv: readonly string[]): Flags {
  const values = new Map<string, unknown>(FLAG_SPECS.map((s) => [s.name, convert(s, s.default)]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([A-Za-z][\w.-]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new FlagError(`unexpected argument "${arg}"; flags look like -name value`);
    const name = m[1]!;
    const spec =
      FLAG_SPECS.find((s) => s.name === name) ??
      (name === "h" ? FLAG_SPECS.find((s) => s.name === "help") : undefined);
    if (spec === undefined) throw new FlagError(`flag provided but not defined: -${name}`);
    let value = m[2];
    if (value === undefined) {
      if (spec.kind === "bool") value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new FlagError(`flag needs an argument: -${name}`);
      }
    }
    values.set(spec.name, convert(spec, value));
  }
  const get = <T>(name: string) => values.get(name) as T;
  const conf = get<string>("conf");
  const pidfile = get<string>("pidfile");
  return {
    localip: get("localip"),
    conf: conf === "" ? null : conf,
    basecorefile: get("basecorefile"),
    upstreamsvc: get("upstreamsvc"),
    kubednscm: get("kubednscm"),
    setupinterface: get("setupinterface"),
    interfacename: get("interfacename"),
    setupiptables: get("setupiptables"),
    skipteardown: get("skipteardown"),
    syncintervalMs: get("syncinterval"),
    healthPort: get("health-port"),
    metricsListenAddress: get("metrics-listen-address"),
    pidfile: pidfile === "" ? null : pidfile,
    dnsPort: get("dns.port"),
    workers: get("workers"),
    version: get("version"),
    help: get("help"),
  };
}

export function usage(): string {
  const lines = [
    "Usage: nodelocaldns [flags]",
    "       nodelocaldns explain NAME [--type T] [--pod NAMESPACE/POD | --client IP] [--json] [--live] [--server ADDRESS]",
    "       nodelocaldns cache show|flush NAME [--json] [--server ADDRESS]",
    "",
  ];
  for (const spec of FLAG_SPECS) {
    const def = spec.default === "" ? "" : ` (default ${spec.default})`;
    lines.push(`  -${spec.name}${spec.kind === "bool" ? "" : ` ${spec.kind}`}`, `        ${spec.help}${def}`);
  }
  return lines.join("\n");
}
