// Structured JSON logs (pino's line shape) to stdout; modules receive a Logger, never create one.

export { ErrorsLog, type ErrorsLogOptions, goRegexp } from "./errors.ts";
export { jsonLogger, LEVELS, type Logger, type Sink, stdoutSink } from "./logger.ts";

import { jsonLogger, type Logger } from "./logger.ts";

export function createLogger(level = process.env.NODELOCALDNS_LOG_LEVEL ?? "info"): Logger {
  return jsonLogger(level, "nodelocaldns");
}
