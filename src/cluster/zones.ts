// The zones of one `kubernetes` directive: forward zones (services, pods) and reverse zones (PTR),
// matched against raw query bytes, plus the fallthrough decision.

import type { KubernetesConfig } from "../config/types.ts";
import { canonicalName, nameInZone, nameToWire } from "../dns/index.ts";

export interface Zone {
  /** Lowercase, trailing dot. */
  name: string;
  wire: Buffer;
  reverse: boolean;
}

export function isReverseZone(name: string): boolean {
  return name.endsWith("in-addr.arpa.") || name.endsWith("ip6.arpa.");
}

export class Zones {
  /** Longest first, so the first match is the most specific. */
  readonly all: Zone[];
  readonly forward: Zone[];
  readonly reverse: Zone[];
  /** Where PTR targets live: the first forward zone. */
  readonly primary: string;
  readonly primaryWire: Buffer;
  private readonly fallAll: boolean;
  private readonly fallZones: Buffer[] | null;

  constructor(config: KubernetesConfig) {
    const zones = config.zones.map((z) => {
      const name = canonicalName(z);
      return { name, wire: nameToWire(name), reverse: isReverseZone(name) };
    });
    this.forward = zones.filter((z) => !z.reverse);
    this.reverse = zones.filter((z) => z.reverse);
    this.primary = this.forward[0]?.name ?? "cluster.local.";
    this.primaryWire = nameToWire(this.primary);
    this.all = [...zones].sort((a, b) => b.wire.length - a.wire.length);
    this.fallAll = config.fallthrough !== null && config.fallthrough.length === 0;
    this.fallZones = config.fallthrough === null ? null : config.fallthrough.map((z) => nameToWire(z));
  }

  match(buf: Buffer, start: number, end: number): Zone | null {
    for (const zone of this.all) if (nameInZone(buf, start, end, zone.wire)) return zone;
    return null;
  }

  /** Whether an NXDOMAIN for this name goes on down the chain instead. */
  fallsThrough(buf: Buffer, start: number, end: number): boolean {
    if (this.fallAll) return true;
    if (this.fallZones === null) return false;
    for (const z of this.fallZones) if (nameInZone(buf, start, end, z)) return true;
    return false;
  }

  /** Whether a presentation name (lowercase, trailing dot) lies within a reverse zone we serve. */
  servesReverse(name: string): boolean {
    return this.reverse.some((z) => name === z.name || name.endsWith(`.${z.name}`));
  }
}
