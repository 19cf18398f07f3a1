// Zone matching on presentation names (lowercase, trailing dot), as CoreDNS's plugin.Zones.Matches.

/** The longest of `zones` that contains `name`, or null. */
export function matchZone(zones: readonly string[], name: string): string | null {
  let best: string | null = null;
  for (const z of zones) {
    if ((z === "." || name === z || name.endsWith(`.${z}`)) && (best === null || z.length > best.length))
      best = z;
  }
  return best;
}

/** fall.F.Through: null = never; [] = every name; else names within the zones. */
export function fallsThrough(zones: readonly string[] | null, name: string): boolean {
  if (zones === null) return false;
  return zones.length === 0 || matchZone(zones, name) !== null;
}
