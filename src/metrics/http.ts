// Serves /metrics for one registry on a host:port; several `prometheus` directives naming the same
// address share one listener.

import type { Server } from "node:http";
import { createRequire } from "node:module";

// ESM `import … from "node:http"` reads every export of the module, and http's WebSocket getters
// then load the bundled undici: 13 MiB resident for nothing. require() reads only what is used.
const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http");

export function splitHostPort(address: string, defaultHost = "0.0.0.0"): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (m === null) return { host: address || defaultHost, port: 9153 };
  return { host: m[1] === "" ? defaultHost : m[1]!, port: Number(m[2]) };
}

/** Where /metrics text comes from: a Registry, or the aggregate of several processes. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export async function startMetricsServer(address: string, registry: MetricsSource): Promise<Server> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    if (req.url !== "/metrics" && !req.url?.startsWith("/metrics?")) {
      res.writeHead(404).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "Content-Type": registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  return listenOn(server, host, port);
}

/** Listen on host:port, shared with a successor (SO_REUSEPORT); rejects when the bind fails. */
export async function listenOn(server: Server, host: string, port: number): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, reusePort: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
