// The hosts handler: A/AAAA for names of the file and the inline entries, PTR for their addresses,
// the file re-read when its mtime or size changes (CoreDNS's check), every `reload` period.

import { readFileSync, statSync } from "node:fs";
import { nameInZone, nameToWire, RCODE, TYPE } from "../../dns/index.ts";
import type { Handler, Next, Query } from "../../server/index.ts";
import { answer, type DnsRecord, questionName } from "../reply.ts";
import { matchZone } from "../zones.ts";
import { HostsMap } from "./map.ts";
import type { HostsConfig } from "./parse.ts";

export interface HostsEvents {
  /** The file was (re)read: entries now held, the file's mtime in seconds. */
  loaded(entries: number, mtimeSec: number): void;
  /** The file could not be read (missing files are as CoreDNS: an empty table, logged once). */
  failed(error: unknown): void;
}

export class HostsPlugin implements Handler {
  readonly name = "hosts" as const;
  private readonly config: HostsConfig;
  private readonly zoneWires: Buffer[];
  private readonly fallWires: Buffer[] | null;
  private readonly events: HostsEvents;
  private readonly inline: HostsMap;
  private file = new HostsMap();
  private stamp = "";
  private readonly timer: NodeJS.Timeout | null;

  constructor(config: HostsConfig, events: HostsEvents) {
    this.config = config;
    this.events = events;
    this.zoneWires = config.zones.map((z) => nameToWire(z));
    this.fallWires = config.fallthrough?.map((z) => nameToWire(z)) ?? null;
    this.inline = HostsMap.parse(config.inline.join("\n"), (n) => this.inZones(n), config.reverse);
    this.reload();
    this.timer = config.reloadMs > 0 ? setInterval(() => this.reload(), config.reloadMs).unref() : null;
  }

  /** Re-read the file when its mtime or size changed since the last read. */
  reload(): void {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(this.config.path);
    } catch (error) {
      if (this.stamp !== "missing") this.events.failed(error);
      this.stamp = "missing";
      return;
    }
    const stamp = `${stat.mtimeMs}/${stat.size}`;
    if (stamp === this.stamp) return;
    try {
      const text = readFileSync(this.config.path, "utf8");
      this.file = HostsMap.parse(text, (n) => this.inZones(n), this.config.reverse);
      this.stamp = stamp;
      this.events.loaded(this.file.size + this.inline.size, stat.mtimeMs / 1000);
    } catch (error) {
      this.events.failed(error);
    }
  }

  handle(query: Query, next: Next): void {
    if (query.qtype === TYPE.PTR) {
      // PTR names need not be within the plugin's zones (CoreDNS).
      const owner = questionName(query);
      const names = this.reverseLookup(owner);
      if (names.length === 0) {
        next(query);
        return;
      }
      answer(query, "hosts", RCODE.NOERROR, {
        answer: names.map((n) => record(owner, "PTR", this.config.ttl, n.slice(0, -1))),
      });
      return;
    }
    if (!this.matches(query, this.zoneWires)) {
      next(query);
      return;
    }
    const name = questionName(query);
    const v4 = this.addresses(name, true);
    const v6 = this.addresses(name, false);
    const ips = query.qtype === TYPE.A ? v4 : query.qtype === TYPE.AAAA ? v6 : [];
    if (ips.length === 0 && v4.length === 0 && v6.length === 0) {
      // No such name: on to the next plugin when fallthrough allows, else SERVFAIL (no SOA to
      // make an NXDOMAIN with, as CoreDNS says).
      if (this.fallsThrough(query)) {
        next(query);
        return;
      }
      answer(query, "hosts", RCODE.SERVFAIL, {}, false);
      return;
    }
    const type = query.qtype === TYPE.A ? "A" : "AAAA";
    answer(query, "hosts", RCODE.NOERROR, {
      answer: ips.map((ip) => record(name, type, this.config.ttl, ip)),
    });
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  private addresses(name: string, v4: boolean): string[] {
    return [...this.file.lookup(name, v4), ...this.inline.lookup(name, v4)];
  }

  private reverseLookup(name: string): string[] {
    const addr = addressOfReverse(name);
    if (addr === null) return [];
    return [...(this.file.addr.get(addr) ?? []), ...(this.inline.addr.get(addr) ?? [])];
  }

  private fallsThrough(query: Query): boolean {
    if (this.fallWires === null) return false;
    return this.fallWires.length === 0 || this.matches(query, this.fallWires);
  }

  private matches(query: Query, zones: Buffer[]): boolean {
    for (const z of zones) if (nameInZone(query.buf, 12, query.qnameEnd, z)) return true;
    return false;
  }

  private inZones(name: string): boolean {
    return matchZone(this.config.zones, name) !== null;
  }
}

function record(name: string, type: "A" | "AAAA" | "PTR", ttl: number, data: string): DnsRecord {
  return { name: name === "." ? "." : name.slice(0, -1), type, class: "IN", ttl, data };
}

/** dnsutil.ExtractAddressFromReverse: the address a reverse name stands for, in canonical text. */
export function addressOfReverse(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.endsWith(".in-addr.arpa.")) {
    const labels = lower.slice(0, -".in-addr.arpa.".length).split(".");
    if (labels.length !== 4 || !labels.every((l) => /^\d{1,3}$/.test(l) && Number(l) < 256)) return null;
    return labels.reverse().map(Number).join(".");
  }
  if (lower.endsWith(".ip6.arpa.")) {
    const nibbles = lower.slice(0, -".ip6.arpa.".length).split(".");
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return null;
    const hex = nibbles.reverse().join("");
    const groups = hex.match(/.{4}/g)!.join(":");
    return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
  }
  return null;
}
