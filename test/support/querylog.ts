// Reading an upstream's query log file: the "N identical misses reach the upstream as one query" check.

import { readFile, truncate } from "node:fs/promises";

export interface LoggedQuery {
  client: string;
  /** As logged, with a trailing dot. */
  name: string;
  type: string;
}

export const PROBE_NAME = "ready-probe.invalid.";

function norm(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : `${n}.`;
}

export interface QueryLog {
  queryLog(): Promise<LoggedQuery[]>;
  /** Queries logged (readiness probes excluded), optionally only for `name` (case-insensitive) and `type`. */
  queryCount(name?: string, type?: string): Promise<number>;
  /** Polls until queryCount(name, type) >= n; resolves with the count, rejects after timeoutMs. */
  waitForQueries(n: number, name?: string, type?: string, timeoutMs?: number): Promise<number>;
  clearQueryLog(): Promise<void>;
}

export function queryLogReader(file: string, parse: (line: string) => LoggedQuery | null): QueryLog {
  const queryLog = async (): Promise<LoggedQuery[]> => {
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch {
      return [];
    }
    const out: LoggedQuery[] = [];
    for (const line of text.split("\n")) {
      const q = parse(line);
      if (q && norm(q.name) !== PROBE_NAME) out.push(q);
    }
    return out;
  };
  const queryCount = async (name?: string, type?: string): Promise<number> => {
    const want = name === undefined ? undefined : norm(name);
    const t = type?.toUpperCase();
    return (await queryLog()).filter(
      (q) => (want === undefined || norm(q.name) === want) && (!t || q.type === t),
    ).length;
  };
  return {
    queryLog,
    queryCount,
    async waitForQueries(n, name, type, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = await queryCount(name, type);
        if (c >= n) return c;
        if (Date.now() > deadline)
          throw new Error(`saw ${c} queries for ${name ?? "*"} ${type ?? ""}, wanted ${n}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async clearQueryLog() {
      await truncate(file, 0).catch(() => undefined);
    },
  };
}
