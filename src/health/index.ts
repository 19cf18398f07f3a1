// /health and /ready over HTTP. Health is red while `healthy()` says so (the daemon wires a probe
// of the real query path into it); ready waits for every block and the first cluster sync.

import type { Server } from "node:http";
import { createRequire } from "node:module";
import { listenOn, splitHostPort } from "../metrics/http.ts";

export {
  DEFAULT_PROBES_PER_ROUND,
  type ProbeTarget,
  probeName,
  SelfProbe,
  type SelfProbeOptions,
} from "./probe.ts";

export { installTestHooks, TEST_HOOKS_ENV, testHooksEnabled } from "./test-hooks.ts";

// Loaded with require(): see src/metrics/http.ts (an ESM import of node:http loads undici).
const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http");

export interface HealthChecks {
  healthy(): boolean;
  ready(): boolean;
}

export async function startHealthServer(
  address: string,
  path: "/health" | "/ready",
  checks: HealthChecks,
): Promise<Server> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    const url = (req.url ?? "").split("?")[0];
    if (url !== path) {
      res.writeHead(404).end("not found\n");
      return;
    }
    const ok = path === "/health" ? checks.healthy() : checks.ready();
    res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" }).end(ok ? "OK" : "not ready");
  });
  return listenOn(server, host, port);
}
