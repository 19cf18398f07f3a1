// Which store a reply belongs in and for how long (CoreDNS cache semantics, RFC 2308 for denials).

import type { CacheConfig } from "../config/types.ts";
import { FLAG_TC, RCODE, type ReplyScan } from "../dns/index.ts";

export type StoreKind = "success" | "denial";

export interface Placement {
  kind: StoreKind;
  /** Entry lifetime in whole seconds (> 0). */
  ttl: number;
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : Math.min(value, max);
}

/** Where to cache `reply`, or null when it must not be cached. */
export function placeReply(reply: Buffer, scan: ReplyScan, config: CacheConfig): Placement | null {
  if ((reply.readUInt16BE(2) & FLAG_TC) !== 0) return null;
  if (scan.extendedRcode !== 0) return null;
  switch (scan.rcode) {
    case RCODE.NOERROR: {
      if (scan.ancount > 0) return success(scan.minTtl, config);
      if (scan.soaNegativeTtl >= 0) return denial(scan.soaNegativeTtl, config); // NODATA
      if (scan.hasAuthorityNs) return success(scan.minTtl, config); // referral
      return null;
    }
    case RCODE.NXDOMAIN:
      return scan.soaNegativeTtl >= 0 ? denial(scan.soaNegativeTtl, config) : null;
    case RCODE.SERVFAIL:
      return config.servfailTtl > 0 ? { kind: "denial", ttl: config.servfailTtl } : null;
    default:
      return null; // REFUSED, FORMERR, NOTIMP and the rest are never cached
  }
}

function success(minTtl: number, config: CacheConfig): Placement | null {
  if (minTtl < 0) return null;
  const ttl = clamp(minTtl, config.success.minTtl, config.success.maxTtl);
  return ttl > 0 ? { kind: "success", ttl } : null;
}

function denial(negativeTtl: number, config: CacheConfig): Placement | null {
  const ttl = clamp(negativeTtl, config.denial.minTtl, config.denial.maxTtl);
  return ttl > 0 ? { kind: "denial", ttl } : null;
}
