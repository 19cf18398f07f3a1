// A small Kubernetes API server for tests, speaking the real list/watch protocol for Services,
// EndpointSlices, Namespaces and Pods: paged lists (limit/continue), chunked newline-delimited
// watch events from a resourceVersion (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), 410 Gone for
// compacted history, and controls to drop, mute, delay or refuse connections.

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Kind = "service" | "endpointslice" | "namespace" | "pod";

// biome-ignore lint/suspicious/noExplicitAny: test objects are API JSON
type Json = any;

const ROUTES: Record<string, Kind> = {
  "/api/v1/services": "service",
  "/apis/discovery.k8s.io/v1/endpointslices": "endpointslice",
  "/api/v1/namespaces": "namespace",
  "/api/v1/pods": "pod",
};

const TYPE_META: Record<Kind, { kind: string; apiVersion: string }> = {
  service: { kind: "Service", apiVersion: "v1" },
  endpointslice: { kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1" },
  namespace: { kind: "Namespace", apiVersion: "v1" },
  pod: { kind: "Pod", apiVersion: "v1" },
};

interface HistoryEvent {
  rv: number;
  kind: Kind;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: Json;
}

interface Watcher {
  kind: Kind;
  res: http.ServerResponse;
  filter: (o: Json) => boolean;
  muted: boolean;
  timer: NodeJS.Timeout | null;
}

function keyOf(o: Json): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Equality-based label/field selectors: `a=b,c!=d,e` (what the reflector sends). */
function selector(
  text: string | null,
  get: (o: Json, key: string) => string | undefined,
): (o: Json) => boolean {
  if (!text) return () => true;
  const terms = text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  return (o) =>
    terms.every((term) => {
      const ne = term.indexOf("!=");
      if (ne >= 0) return get(o, term.slice(0, ne)) !== term.slice(ne + 2);
      const eq = term.indexOf("=");
      if (eq < 0) return get(o, term) !== undefined;
      return get(o, term.slice(0, eq)) === term.slice(eq + 1).replace(/^=/, "");
    });
}

const labelOf = (o: Json, key: string) => o.metadata?.labels?.[key];
const fieldOf = (o: Json, key: string): string | undefined => {
  let v: Json = o;
  for (const part of key.split(".")) v = v?.[part];
  return v === undefined ? undefined : String(v);
};

export class FakeKubeApi {
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly objects: Record<Kind, Map<string, Json>> = {
    service: new Map(),
    endpointslice: new Map(),
    namespace: new Map(),
    pod: new Map(),
  };
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  /** Including dropped ones, so stop() can clear every timer. */
  private readonly allWatchers = new Set<Watcher>();
  private readonly snapshots = new Map<string, { rv: number; items: Json[] }>();
  private rv = 100;
  private compactedRv = 0;
  /** Every request's path and query, for assertions. */
  readonly requests: string[] = [];
  /** Delay before answering any request, ms. */
  delayMs = 0;
  /** Close every new connection at once. */
  refuse = false;
  /** Report 410 for compacted watches as an ERROR event (true) or an HTTP status (false). */
  goneAsEvent = true;
  /** Token the client must send (Bearer); null accepts anything. */
  requireToken: string | null = null;
  port = 0;

  async start(host = "127.0.0.1", port = 0): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (socket) => {
      if (this.refuse) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  async stop(): Promise<void> {
    for (const w of this.allWatchers) if (w.timer) clearTimeout(w.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  // ---- controls ----

  create(kind: Kind, object: Json): Json {
    return this.write(kind, object, this.objects[kind].has(keyOf(object)) ? "MODIFIED" : "ADDED");
  }

  update(kind: Kind, object: Json): Json {
    return this.write(kind, object, "MODIFIED");
  }

  remove(kind: Kind, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const old = this.objects[kind].get(key);
    if (old === undefined) return;
    this.objects[kind].delete(key);
    const object = structuredClone(old);
    object.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, kind, type: "DELETED", object });
  }

  /** Current objects of a kind (as the API would list them). */
  list(kind: Kind): Json[] {
    return [...this.objects[kind].values()];
  }

  /** Send a BOOKMARK with the current resourceVersion to every watch. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.muted)
        this.send(w, {
          type: "BOOKMARK",
          object: { ...TYPE_META[w.kind], metadata: { resourceVersion: String(this.rv) } },
        });
    }
  }

  /** Close every watch stream (the client sees its connection end). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /** Current watch streams stop receiving anything (the connection stays open). */
  muteWatches(): void {
    for (const w of this.watchers) w.muted = true;
  }

  /** Forget history up to now: a watch or continue from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    this.snapshots.clear();
  }

  /** Number of open (unmuted) watch streams, per kind or in all. */
  watching(kind?: Kind): number {
    let n = 0;
    for (const w of this.watchers) if (!w.muted && (kind === undefined || w.kind === kind)) n++;
    return n;
  }

  private write(kind: Kind, object: Json, type: "ADDED" | "MODIFIED"): Json {
    const stored = { ...TYPE_META[kind], ...structuredClone(object) };
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.rv) };
    stored.metadata.uid ??= `uid-${kind}-${keyOf(stored)}`;
    this.objects[kind].set(keyOf(stored), stored);
    this.emit({ rv: this.rv, kind, type, object: stored });
    return stored;
  }

  private emit(event: HistoryEvent): void {
    this.history.push(event);
    for (const w of this.watchers) {
      if (w.kind === event.kind && !w.muted && w.filter(event.object)) {
        this.send(w, { type: event.type, object: event.object });
      }
    }
  }

  private send(w: Watcher, event: Json): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code }));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests.push(req.url ?? "");
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (res.destroyed || this.server === null) return; // the client or the test went away meanwhile
    const url = new URL(req.url ?? "/", "http://x");
    const kind = ROUTES[url.pathname];
    if (kind === undefined) return this.status(res, 404, "NotFound", `no route ${url.pathname}`);
    if (this.requireToken !== null && req.headers.authorization !== `Bearer ${this.requireToken}`) {
      return this.status(res, 401, "Unauthorized", "Unauthorized");
    }
    const labels = selector(url.searchParams.get("labelSelector"), labelOf);
    const fields = selector(url.searchParams.get("fieldSelector"), fieldOf);
    const filter = (o: Json) => labels(o) && fields(o);
    if (url.searchParams.get("watch") === "1" || url.searchParams.get("watch") === "true") {
      return this.serveWatch(kind, url, filter, res);
    }
    return this.serveList(kind, url, filter, res);
  }

  private serveList(kind: Kind, url: URL, filter: (o: Json) => boolean, res: http.ServerResponse): void {
    const limit = Number(url.searchParams.get("limit") ?? 0);
    const token = url.searchParams.get("continue");
    let snapshot: { rv: number; items: Json[] };
    if (token) {
      const found = this.snapshots.get(token);
      if (found === undefined) {
        this.status(res, 410, "Expired", "The provided continue parameter is too old");
        return;
      }
      snapshot = found;
      this.snapshots.delete(token);
    } else {
      const items = [...this.objects[kind].values()]
        .filter(filter)
        .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      snapshot = { rv: this.rv, items };
    }
    let page = snapshot.items;
    const metadata: Json = { resourceVersion: String(snapshot.rv) };
    if (limit > 0 && page.length > limit) {
      const next = `c${Math.random().toString(36).slice(2)}`;
      this.snapshots.set(next, { rv: snapshot.rv, items: page.slice(limit) });
      page = page.slice(0, limit);
      metadata.continue = next;
      metadata.remainingItemCount = snapshot.items.length - limit;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        kind: `${TYPE_META[kind].kind}List`,
        apiVersion: TYPE_META[kind].apiVersion,
        metadata,
        items: page,
      }),
    );
  }

  private serveWatch(kind: Kind, url: URL, filter: (o: Json) => boolean, res: http.ServerResponse): void {
    const from = Number(url.searchParams.get("resourceVersion") || 0);
    if (from > 0 && from < this.compactedRv) {
      if (!this.goneAsEvent) {
        this.status(res, 410, "Expired", `too old resource version: ${from}`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      const status = {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Expired",
        code: 410,
        message: `too old resource version: ${from} (${this.compactedRv})`,
      };
      res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const watcher: Watcher = { kind, res, filter, muted: false, timer: null };
    if (from === 0) {
      for (const o of this.objects[kind].values())
        if (filter(o)) this.send(watcher, { type: "ADDED", object: o });
    } else {
      for (const e of this.history) {
        if (e.rv > from && e.kind === kind && filter(e.object))
          this.send(watcher, { type: e.type, object: e.object });
      }
    }
    this.watchers.add(watcher);
    this.allWatchers.add(watcher);
    const timeout = Number(url.searchParams.get("timeoutSeconds") || 0);
    if (timeout > 0) watcher.timer = setTimeout(() => res.end(), timeout * 1000);
    res.on("close", () => {
      if (watcher.timer) clearTimeout(watcher.timer);
      this.watchers.delete(watcher);
    });
  }
}

// ---- object builders in the API's JSON shapes ----

export function namespaceJson(name: string): Json {
  return { metadata: { name } };
}

export function serviceJson(
  namespace: string,
  name: string,
  spec: { clusterIP?: string; clusterIPs?: string[]; type?: string; externalName?: string; ports?: Json[] },
  labels: Record<string, string> = {},
): Json {
  const clusterIPs = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : undefined);
  return {
    metadata: { namespace, name, labels },
    spec: {
      type: spec.type ?? "ClusterIP",
      clusterIP: spec.clusterIP ?? clusterIPs?.[0],
      clusterIPs,
      externalName: spec.externalName,
      ports: spec.ports ?? [],
    },
  };
}

export function endpointSliceJson(
  namespace: string,
  name: string,
  service: string,
  endpoints: { ip: string; ready?: boolean; hostname?: string; pod?: string }[],
  ports: Json[] = [],
  addressType = "IPv4",
): Json {
  return {
    metadata: { namespace, name, labels: { "kubernetes.io/service-name": service } },
    addressType,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: e.ready === undefined ? {} : { ready: e.ready },
      hostname: e.hostname,
      targetRef: e.pod ? { kind: "Pod", namespace, name: e.pod } : undefined,
    })),
    ports,
  };
}

export function podJson(
  namespace: string,
  name: string,
  ips: string[],
  nodeName: string,
  phase = "Running",
): Json {
  return {
    metadata: { namespace, name },
    spec: { nodeName },
    status: { phase, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
  };
}
