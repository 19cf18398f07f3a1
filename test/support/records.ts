// Zone-file-syntax record builders shared by the unbound and fake upstreams.

/** `zone. TTL IN SOA ...`: NXDOMAIN/NODATA answers carry it; negative TTL = min(ttl, minimum). */
export function soaRecord(
  zone: string,
  opts: { ttl?: number; minimum?: number; serial?: number } = {},
): string {
  const z = zone.endsWith(".") ? zone : `${zone}.`;
  const ttl = opts.ttl ?? 300;
  const min = opts.minimum ?? 30;
  return `${z} ${ttl} IN SOA ns.${z} hostmaster.${z} ${opts.serial ?? 1} 3600 600 86400 ${min}`;
}

/**
 * Distinct TXT records at `name`, each with several 200-byte strings, adding up to about `approxBytes`
 * of answer on the wire (4096 by default: too big for UDP at 1232, fine over TCP).
 */
export function largeTxtRecords(name: string, approxBytes = 4096, ttl = 300, stringsPerRecord = 3): string[] {
  const n = name.endsWith(".") ? name : `${name}.`;
  const perRecord = 12 + stringsPerRecord * 201; // compressed owner + fixed fields + strings
  const count = Math.max(1, Math.ceil(approxBytes / perRecord));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const strings: string[] = [];
    for (let j = 0; j < stringsPerRecord; j++) {
      const tag = `r${i}s${j}-`;
      strings.push(`"${tag}${"x".repeat(200 - tag.length)}"`);
    }
    out.push(`${n} ${ttl} IN TXT ${strings.join(" ")}`);
  }
  return out;
}
