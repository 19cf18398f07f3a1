// Structured JSON logs (pino) to stdout; modules receive a Logger, never create one.
import { pino } from "pino";

export { ErrorsLog, type ErrorsLogOptions, goRegexp } from "./errors.ts";

export type Logger = pino.Logger;

export function createLogger(level = process.env.NODELOCALDNS_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { name: "nodelocaldns" }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Logs a recurring problem at most once per interval per key, with how often it happened. */
export class RateLimitedLog {
  private readonly seen = new Map<string, { count: number; since: number }>();
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(log: Logger, intervalMs: number, now: () => number = Date.now) {
    this.log = log;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  warn(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    const state = this.seen.get(key);
    if (state !== undefined && now - state.since < this.intervalMs) {
      state.count++;
      return;
    }
    const repeated = state?.count ?? 0;
    this.seen.set(key, { count: 0, since: now });
    this.log.warn({ ...fields, repeated }, message);
  }
}
