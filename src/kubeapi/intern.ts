// Shared copies of the small strings and port lists that repeat across thousands of objects
// (protocols, namespaces, identical port lists), so each is held once instead of once per object.
// Bounded: past the limit values are kept as given, so churn of unique values cannot grow the table.

import type { SlimPort } from "./types.ts";

const LIMIT = 8192;
const strings = new Map<string, string>();
const portLists = new Map<string, readonly SlimPort[]>();
const NO_PORTS: readonly SlimPort[] = Object.freeze([]);

export function internString(value: string): string {
  const held = strings.get(value);
  if (held !== undefined) return held;
  if (strings.size < LIMIT) strings.set(value, value);
  return value;
}

/** One frozen array per distinct port list. */
export function internPorts(list: SlimPort[]): readonly SlimPort[] {
  if (list.length === 0) return NO_PORTS;
  let key = "";
  for (const p of list) key += `${p.name}\u0000${p.port}\u0000${p.protocol}\u0001`;
  const held = portLists.get(key);
  if (held !== undefined) return held;
  const frozen = Object.freeze(list.map((p) => Object.freeze({ ...p })));
  if (portLists.size < LIMIT) portLists.set(key, frozen);
  return frozen;
}
