// The pprof endpoint's HTTP server: /debug/pprof/profile?seconds=N records a V8 CPU profile for N
// seconds (default 30, as Go's) and returns it as a .cpuprofile (Chrome DevTools / speedscope format);
// /debug/pprof/heap returns a V8 heap snapshot (.heapsnapshot). A heap snapshot pauses the process
// while it is written: DNS answers wait for it, as they would for Go's stop-the-world heap dump.

import type { Server } from "node:http";
import { createRequire } from "node:module";
import { listenHttp } from "../../metrics/http.ts";

// Loaded only when a profile is asked for: a daemon with `pprof` configured pays nothing until then.
const load = createRequire(import.meta.url);

const MAX_SECONDS = 300;
const INDEX = [
  "nodelocaldns profiles (V8 formats, not Go pprof):",
  "  /debug/pprof/profile?seconds=N  CPU profile (.cpuprofile JSON), default 30 s",
  "  /debug/pprof/heap                heap snapshot (.heapsnapshot JSON)",
  "",
].join("\n");

let profiling = false;

async function cpuProfile(seconds: number): Promise<string> {
  const { Session } = load("node:inspector/promises") as typeof import("node:inspector/promises");
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const { profile } = await session.post("Profiler.stop");
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

export function startPprofServer(address: string): Promise<Server> {
  return listenHttp(
    address,
    (req, res) => {
      const url = new URL(req.url ?? "/", "http://pprof");
      if (url.pathname === "/debug/pprof/" || url.pathname === "/debug/pprof") {
        res.writeHead(200, { "Content-Type": "text/plain" }).end(INDEX);
        return;
      }
      if (url.pathname === "/debug/pprof/profile") {
        const asked = Number(url.searchParams.get("seconds") ?? "30");
        if (!Number.isFinite(asked) || asked <= 0 || asked > MAX_SECONDS) {
          res.writeHead(400).end(`seconds must be a number in (0, ${MAX_SECONDS}]\n`);
          return;
        }
        // V8 runs one CPU profile per session; two at once would just be two profiles of the same time.
        if (profiling) {
          res.writeHead(409).end("a CPU profile is already being recorded\n");
          return;
        }
        profiling = true;
        cpuProfile(asked)
          .then(
            (json) =>
              res
                .writeHead(200, {
                  "Content-Type": "application/json",
                  "Content-Disposition": 'attachment; filename="nodelocaldns.cpuprofile"',
                })
                .end(json),
            (error: unknown) => res.writeHead(500).end(`${String(error)}\n`),
          )
          .finally(() => {
            profiling = false;
          });
        return;
      }
      if (url.pathname === "/debug/pprof/heap") {
        res.writeHead(200, {
          "Content-Type": "application/json",
          "Content-Disposition": 'attachment; filename="nodelocaldns.heapsnapshot"',
        });
        const { getHeapSnapshot } = load("node:v8") as typeof import("node:v8");
        getHeapSnapshot().pipe(res);
        return;
      }
      res.writeHead(404).end("not found\n");
    },
    "localhost",
  );
}
