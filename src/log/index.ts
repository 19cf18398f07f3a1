// Structured JSON logs (pino) to stdout; modules receive a Logger, never create one.
import { pino } from "pino";

export { ErrorsLog, type ErrorsLogOptions, goRegexp } from "./errors.ts";

export type Logger = pino.Logger;

export function createLogger(level = process.env.NODELOCALDNS_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { name: "nodelocaldns" }, timestamp: pino.stdTimeFunctions.isoTime });
}
