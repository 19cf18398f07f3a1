// The debug endpoint (`explain [ADDRESS]`): JSON over HTTP for the CLI's explain and cache commands.
// Only local callers are served: the answers describe what this node's pods resolve and cache.
//   GET  /explain?name=N[&type=T][&pod=NS/POD|&client=IP][&live=1]
//   GET  /cache?name=N
//   POST /cache/flush?name=N

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ExplainError } from "../errors/index.ts";
import { listenHttp } from "../metrics/index.ts";
import type { DebugBackend, ExplainRequest } from "./types.ts";

/** Loopback callers only: 127.0.0.0/8, ::1, and IPv4-mapped 127.x. */
export function isLocalCaller(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return address === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(`${JSON.stringify(body)}\n`);
}

async function handle(req: IncomingMessage, backend: DebugBackend): Promise<[number, unknown]> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const name = url.searchParams.get("name");
  const route = `${req.method} ${url.pathname}`;
  const known = ["GET /explain", "GET /cache", "POST /cache/flush"];
  if (!known.includes(route)) {
    return [404, { error: `no such endpoint ${route}; known: ${known.join(", ")}` }];
  }
  if (name === null || name.trim() === "") throw new ExplainError("EXPLAIN_BAD_REQUEST", "name is required");
  if (route === "GET /cache") return [200, await backend.cacheShow(name)];
  if (route === "POST /cache/flush") return [200, { flushed: await backend.cacheFlush(name) }];
  const request: ExplainRequest = { name, live: url.searchParams.get("live") === "1" };
  for (const key of ["type", "pod", "client"] as const) {
    const value = url.searchParams.get(key);
    if (value !== null) request[key] = value;
  }
  if (request.pod !== undefined && request.client !== undefined)
    throw new ExplainError("EXPLAIN_BAD_REQUEST", "give pod or client, not both");
  return [200, await backend.explain(request)];
}

export async function startExplainServer(address: string, backend: DebugBackend): Promise<Server> {
  return listenHttp(
    address,
    (req, res) => {
      if (!isLocalCaller(req.socket.remoteAddress)) {
        send(res, 403, { error: `explain serves local callers only, not ${req.socket.remoteAddress}` });
        return;
      }
      handle(req, backend).then(
        ([status, body]) => send(res, status, body),
        (error: unknown) =>
          send(res, error instanceof ExplainError ? error.status : 500, { error: (error as Error).message }),
      );
    },
    "127.0.0.1",
  );
}
