// The kube-dns ConfigMap as node-cache reads it: files `stubDomains` (JSON object domain -> servers)
// and `upstreamNameservers` (JSON list) in the -kubednscm directory. Each key is validated on its
// own, as kube-dns's Config.Validate and node-cache's ValidateNodeLocalCacheConfig do together: a bad
// value is reported once (key and value) and the key keeps its last good value.

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

export interface KubeDnsConfig {
  /** Domain -> nameservers (IP, IP:PORT, [IPv6]:PORT), in the order given. */
  stubDomains: Record<string, string[]>;
  /** Replace the node's resolvers for `.` when not empty. */
  upstreamNameservers: string[];
}

export type ConfigMapKey = "stubDomains" | "upstreamNameservers";

export interface ConfigMapProblem {
  key: ConfigMapKey;
  value: string;
  message: string;
}

export const EMPTY_KUBE_DNS_CONFIG: KubeDnsConfig = Object.freeze({
  stubDomains: Object.freeze({}) as Record<string, string[]>,
  upstreamNameservers: Object.freeze([]) as unknown as string[],
});

/** kube-dns allows at most three upstreamNameservers. */
export const MAX_UPSTREAM_NAMESERVERS = 3;

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);

/** A nameserver as the forward plugin takes it: IP, IP:PORT or [IPv6]:PORT, optionally dns://. Null when fine. */
export function nameserverProblem(ns: string): string | null {
  let s = ns.trim();
  if (s.startsWith("dns://")) s = s.slice(6);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s))
    return `"${ns}": only plain DNS (dns://) nameservers are supported`;
  let host = s;
  let port: string | null = null;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2] ?? null;
    if (isIP(host.split("%")[0]!) !== 6) return `"${ns}" is not an IP address`;
  } else if (isIP(s.split("%")[0]!) === 0) {
    const colon = s.lastIndexOf(":");
    if (colon > 0 && s.indexOf(":") === colon) {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
    }
    if (isIP(host) !== 4) {
      return `"${ns}" is not an IP address (hostnames are not allowed; write IP or IP:PORT)`;
    }
  }
  if (port !== null && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return `"${ns}" has a bad port "${port}" (expected 1-65535)`;
  }
  return null;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** Parses and validates the stubDomains value; throws Error with the reason. */
export function parseStubDomains(text: string): Record<string, string[]> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(
      'expected a JSON object of domain -> list of nameservers, e.g. {"acme.local": ["1.2.3.4"]}',
    );
  }
  const out: Record<string, string[]> = {};
  for (const [domain, servers] of Object.entries(value as Record<string, unknown>)) {
    if (domain.length > 253 || !DNS1123_SUBDOMAIN.test(domain)) {
      throw new Error(`invalid domain name "${domain}" (lowercase DNS-1123 subdomain expected)`);
    }
    if (!isStringArray(servers)) throw new Error(`domain "${domain}": expected a list of nameserver strings`);
    if (servers.length === 0) throw new Error(`domain "${domain}": no nameservers given`);
    for (const ns of servers) {
      const problem = nameserverProblem(ns);
      if (problem !== null) throw new Error(`domain "${domain}": ${problem}`);
    }
    out[domain] = servers.map((s) => s.trim());
  }
  return out;
}

/** Parses and validates the upstreamNameservers value; throws Error with the reason. */
export function parseUpstreamNameservers(text: string): string[] {
  if (text.trim() === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid JSON: ${(error as Error).message}`);
  }
  if (!isStringArray(value))
    throw new Error('expected a JSON list of nameservers, e.g. ["8.8.8.8", "8.8.4.4"]');
  if (value.length > MAX_UPSTREAM_NAMESERVERS) {
    throw new Error(`${value.length} entries; at most ${MAX_UPSTREAM_NAMESERVERS} are allowed`);
  }
  for (const ns of value) {
    const problem = nameserverProblem(ns);
    if (problem !== null) throw new Error(problem);
  }
  return value.map((s) => s.trim());
}

type Reader = (path: string) => string | null;

const readOrNull: Reader = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
};

/**
 * Reads the ConfigMap directory on demand. Keeps the last good value per key; reports each distinct
 * bad value once (not on every poll) through `onProblem`.
 */
export class KubeDnsConfigMap {
  private readonly dir: string;
  private readonly read: Reader;
  private readonly onProblem: (problem: ConfigMapProblem) => void;
  private good: KubeDnsConfig = EMPTY_KUBE_DNS_CONFIG;
  private readonly reported = new Map<ConfigMapKey, string>();

  constructor(dir: string, onProblem: (problem: ConfigMapProblem) => void, read: Reader = readOrNull) {
    this.dir = dir;
    this.onProblem = onProblem;
    this.read = read;
  }

  /** The current configuration: each key's file if valid, else its last good value. */
  load(): KubeDnsConfig {
    const stub = this.key("stubDomains", parseStubDomains);
    const up = this.key("upstreamNameservers", parseUpstreamNameservers);
    this.good = Object.freeze({
      stubDomains: stub ?? this.good.stubDomains,
      upstreamNameservers: up ?? this.good.upstreamNameservers,
    });
    return this.good;
  }

  /**
   * Refuses a key's current value that validated but failed later (the generated Corefile did not
   * parse): reported once, and the key goes back to `fallback`'s value until its file changes.
   */
  reject(key: ConfigMapKey, message: string, fallback: KubeDnsConfig): void {
    this.report({ key, value: this.raw(key), message });
    this.good = Object.freeze({ ...this.good, [key]: fallback[key] });
  }

  /** The raw text of a key's file ("" when absent). */
  raw(key: ConfigMapKey): string {
    return this.read(join(this.dir, key)) ?? "";
  }

  private key<T>(key: ConfigMapKey, parse: (text: string) => T): T | null {
    const text = this.raw(key);
    try {
      const value = parse(text);
      if (this.reported.get(key) === text) return null; // refused before: stays refused until it changes
      this.reported.delete(key);
      return value;
    } catch (error) {
      this.report({ key, value: text, message: (error as Error).message });
      return null;
    }
  }

  private report(problem: ConfigMapProblem): void {
    if (this.reported.get(problem.key) === problem.value) return;
    this.reported.set(problem.key, problem.value);
    this.onProblem(problem);
  }
}
