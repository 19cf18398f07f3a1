// The CLI side of the debug endpoint: its options (--server, --json), the HTTP request, and how a
// failure is reported. The daemon's `explain [ADDRESS]` directive opens the endpoint.

import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { splitHostPort } from "../metrics/http.ts";
import { EXPLAIN_DEFAULT_ADDRESS } from "../plugins/explain/index.ts";

const { request } = createRequire(import.meta.url)("node:http") as typeof import("node:http");

export class UsageError extends Error {}

/** Options every debug command takes, and the words left over (NAME, sub-command). */
export interface CommonOptions {
  server: string;
  json: boolean;
  rest: string[];
  /** --OPTION VALUE pairs not common to all commands. */
  values: Map<string, string>;
  /** --FLAG switches not common to all commands. */
  switches: Set<string>;
}

/** Parse `--name value`, `--name=value` and `--flag`; `valued` lists the options that take a value. */
export function parseOptions(
  argv: string[],
  valued: readonly string[],
  flags: readonly string[],
): CommonOptions {
  const out: CommonOptions = {
    server: EXPLAIN_DEFAULT_ADDRESS,
    json: false,
    rest: [],
    values: new Map(),
    switches: new Set(),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      out.rest.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const key = arg.slice(2, eq === -1 ? undefined : eq);
    if (key === "json" || flags.includes(key)) {
      if (eq !== -1) throw new UsageError(`--${key} takes no value (given "${arg.slice(eq + 1)}")`);
      if (key === "json") out.json = true;
      else out.switches.add(key);
      continue;
    }
    if (key !== "server" && !valued.includes(key))
      throw new UsageError(
        `unknown option --${key}; known: ${["server", "json", ...valued, ...flags].map((k) => `--${k}`).join(", ")}`,
      );
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === "") throw new UsageError(`--${key} needs a value`);
    if (key === "server") out.server = value;
    else out.values.set(key, value);
  }
  return out;
}

/** Call the endpoint; the parsed JSON body of a 200, else an Error with the endpoint's message. */
export function callEndpoint(server: string, method: "GET" | "POST", path: string): Promise<unknown> {
  const { host, port } = splitHostPort(server, "127.0.0.1");
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, timeout: 30_000 }, (res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          reject(new Error(`${server} answered HTTP ${res.statusCode} with something that is not JSON`));
          return;
        }
        if (res.statusCode === 200) resolve(parsed);
        else reject(new Error(`${server}: HTTP ${res.statusCode}: ${(parsed as { error?: string }).error}`));
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === "ECONNREFUSED"
            ? `nothing listens at ${server}: is the daemon running with the \`explain\` directive (and that address)?`
            : `cannot reach ${server}: ${error.message}`,
        ),
      ),
    );
    req.end();
  });
}

/** Run a command body: usage errors exit 2 with the usage text, other failures exit 1. */
export async function runCommand(usage: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const usageError = error instanceof UsageError;
    process.stderr.write(`nodelocaldns: ${(error as Error).message}\n${usageError ? `${usage}\n` : ""}`);
    process.exitCode = usageError ? 2 : 1;
  }
}
