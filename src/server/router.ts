// Picks the server block for a query on one listener: the longest zone that contains the qname.

import type { ServerBlock } from "../config/types.ts";
import { nameInZone, nameToWire } from "../dns/index.ts";
import type { ZoneMetrics } from "../metrics/index.ts";
import type { Handler, Next } from "./chain.ts";

export interface Route {
  zone: string;
  zoneWire: Buffer;
  /** The block's composed chain. */
  entry: Next;
  metrics: ZoneMetrics;
  /** The block and its handlers, for introspection (`explain`); the query path uses `entry`. */
  block: ServerBlock;
  handlers: readonly Handler[];
}

export class Router {
  private readonly routes: Route[];
  /**
   * Classes other than IN are served (CoreDNS's classChaos): true when a block on this listener
   * has `forward` (CoreDNS: chaos, forward or proxy), which passes them on; otherwise REFUSED.
   */
  readonly anyClass: boolean;

  constructor(routes: Route[]) {
    this.routes = [...routes].sort((a, b) => b.zoneWire.length - a.zoneWire.length);
    this.anyClass = routes.some((r) => r.block.forward !== null);
  }

  static zoneWire(zone: string): Buffer {
    return nameToWire(zone);
  }

  route(buf: Buffer, qnameEnd: number): Route | undefined {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      if (nameInZone(buf, 12, qnameEnd, r.zoneWire)) return r;
    }
    return undefined;
  }

  get size(): number {
    return this.routes.length;
  }
}
