// Keeps -conf generated from -basecorefile, the kube-dns ConfigMap and the node's resolvers, as
// node-cache does: regenerate on demand (start, every sync), write only when the text changed.

import { readFileSync, writeFileSync } from "node:fs";
import { ConfigError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import {
  type ConfigMapKey,
  type ConfigMapProblem,
  EMPTY_KUBE_DNS_CONFIG,
  type KubeDnsConfig,
  KubeDnsConfigMap,
} from "./configmap.ts";
import { generateCorefile, serviceHostEnv } from "./corefile.ts";
import { selectNodeUpstreams, type UpstreamPaths } from "./upstream.ts";

export interface GeneratorOptions {
  baseFile: string;
  confFile: string;
  kubednsDir: string;
  upstreamSvc: string;
  localIps: readonly string[];
  /** -dns.port. */
  port: number;
  env: NodeJS.ProcessEnv;
  paths: UpstreamPaths;
  /** Parses the generated text; throws (ConfigError) when it is not a valid Corefile. */
  validate(text: string): void;
  log: Logger;
  /** Counts coredns_nodecache_setup_errors_total{errortype="configmap"}. */
  onConfigMapError(): void;
  read?: (path: string) => string | null;
  write?: (path: string, text: string) => void;
}

const readOrNull = (path: string): string | null => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
};

const KEYS: ConfigMapKey[] = ["stubDomains", "upstreamNameservers"];

export class CorefileGenerator {
  private readonly o: GeneratorOptions;
  private readonly read: (path: string) => string | null;
  private readonly write: (path: string, text: string) => void;
  readonly configMap: KubeDnsConfigMap;
  private applied: KubeDnsConfig | null = null;
  private lastNote: string | null = null;
  private baseMissingReported = false;

  constructor(o: GeneratorOptions) {
    this.o = o;
    this.read = o.read ?? readOrNull;
    this.write = o.write ?? ((path, text) => writeFileSync(path, text));
    this.configMap = new KubeDnsConfigMap(o.kubednsDir, (p) => this.problem(p), this.read);
  }

  /**
   * Regenerates -conf. Returns the text, or null when the base file is gone (then -conf is served as
   * it is, as node-cache does). Throws when the base file itself cannot give a valid Corefile.
   */
  sync(): string | null {
    const base = this.read(this.o.baseFile);
    if (base === null) {
      if (!this.baseMissingReported) {
        this.baseMissingReported = true;
        this.o.log.error(
          { file: this.o.baseFile },
          `failed to read node-cache base Corefile ${this.o.baseFile}; serving ${this.o.confFile} as it is`,
        );
        this.o.onConfigMapError();
      }
      return null;
    }
    this.baseMissingReported = false;
    const wanted = this.configMap.load();
    let text: string;
    try {
      text = this.generate(base, wanted);
    } catch (error) {
      const fallback = this.applied ?? EMPTY_KUBE_DNS_CONFIG;
      if (!(error instanceof ConfigError) || same(fallback, wanted)) throw error;
      // The ConfigMap's values made the Corefile invalid (e.g. a stub domain that a base block already
      // serves): find the key at fault, revert it to its last applied value, report it.
      const differing = KEYS.filter((k) => JSON.stringify(wanted[k]) !== JSON.stringify(fallback[k]));
      for (const key of differing.length > 1 ? differing : []) {
        const mixed = { ...wanted, [key]: fallback[key] } as KubeDnsConfig;
        try {
          text = this.generate(base, mixed);
        } catch {
          continue;
        }
        this.configMap.reject(key, `the generated Corefile is invalid with it: ${error.message}`, fallback);
        this.applied = mixed;
        return this.store(text, mixed);
      }
      text = this.generate(base, fallback);
      for (const key of differing) {
        this.configMap.reject(key, `the generated Corefile is invalid with it: ${error.message}`, fallback);
      }
      this.applied = fallback;
      return this.store(text, fallback);
    }
    this.applied = wanted;
    return this.store(text, wanted);
  }

  private generate(base: string, kubeDns: KubeDnsConfig): string {
    const env = serviceHostEnv(this.o.upstreamSvc);
    const { text } = generateCorefile(base, {
      clusterDns: this.o.env[env] ?? null,
      clusterDnsEnv: env,
      localIps: this.o.localIps,
      port: this.o.port,
      kubeDns,
      nodeUpstreams: () => this.nodeUpstreams(),
    });
    this.o.validate(text);
    return text;
  }

  private nodeUpstreams(): string[] {
    const chosen = selectNodeUpstreams(this.o.paths, this.o.localIps, this.read);
    const note = `${chosen.source}: ${chosen.servers.join(" ")}${chosen.note ? ` (${chosen.note})` : ""}`;
    if (note !== this.lastNote) {
      this.lastNote = note;
      this.o.log.info(
        { source: chosen.source, servers: chosen.servers, reason: chosen.note },
        `node upstream servers from ${note}`,
      );
    }
    return chosen.servers;
  }

  private store(text: string, kubeDns: KubeDnsConfig): string {
    if (this.read(this.o.confFile) !== text) {
      this.write(this.o.confFile, text);
      const stubs = Object.keys(kubeDns.stubDomains).length;
      const up =
        kubeDns.upstreamNameservers.length > 0 ? kubeDns.upstreamNameservers.join(" ") : "from the node";
      this.o.log.info(
        { file: this.o.confFile, stubDomains: stubs },
        `updated Corefile with ${stubs} custom stubdomains and upstream servers ${up}`,
      );
      this.o.log.info(`using config file:\n${text}`);
    }
    return text;
  }

  private problem(p: ConfigMapProblem): void {
    this.o.log.error(
      { key: p.key, value: p.value, dir: this.o.kubednsDir },
      `invalid kube-dns ConfigMap value for ${p.key}: ${p.message}; value was ${JSON.stringify(p.value)}; keeping the last good configuration`,
    );
    this.o.onConfigMapError();
  }
}

function same(a: KubeDnsConfig, b: KubeDnsConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
