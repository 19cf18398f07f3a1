// JSON lines on stdout in pino's shape ({"level":30,"time":"…","name":"nodelocaldns",…,"msg":"…"}),
// written synchronously. Our own rather than pino: pino with sonic-boom and thread-stream costs about
// 3 MiB of heap and 5 MiB of the node binary's pages (worker_threads, assert) on every node, for a
// few dozen lines a day.

import { writeSync } from "node:fs";

export const LEVELS = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
} as const;
export type LevelName = keyof typeof LEVELS;

type Fields = Record<string, unknown>;
type LogFn = {
  (msg: string): void;
  (fields: Fields | Error, msg?: string): void;
};

export interface Logger {
  /** The threshold by name; setting it affects this logger, its parent and its children alike. */
  level: string;
  isLevelEnabled(level: string): boolean;
  /** A logger whose lines carry `bindings` too. */
  child(bindings: Fields): Logger;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** Where lines go: fd 1 by default; tests pass a collector. */
export type Sink = (line: string) => void;

/** The threshold all loggers of one tree share. */
interface Threshold {
  name: LevelName;
  value: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Synchronous write to stdout; a full non-blocking pipe is retried for up to ~1 s, then the line is dropped. */
export function stdoutSink(line: string): void {
  let written = 0;
  try {
    written = writeSync(1, line); // the usual case: the whole line at once, no Buffer made
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
  }
  if (written === Buffer.byteLength(line)) return;
  let buf = Buffer.from(line).subarray(written);
  for (let tries = 0; buf.length > 0 && tries < 1000; ) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      tries++;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

/** An Error as pino's err serializer writes it: type, message, stack and its own enumerable fields. */
function serializeError(err: Error): Fields {
  const out: Fields = { type: err.constructor?.name ?? "Error", message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v;
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? serializeError(err.cause) : err.cause;
  return out;
}

/** Plain JSON.stringify first (per-query `log` lines come here); the careful walk only when it throws. */
function encode(record: Fields): string {
  for (const key in record) {
    const value = record[key];
    if (value instanceof Error) record[key] = serializeError(value);
  }
  try {
    return JSON.stringify(record);
  } catch {
    return encodeSafe(record);
  }
}

function encodeSafe(record: Fields): string {
  // Only a value that contains itself is circular; one object referenced twice is written twice.
  const ancestors: object[] = [];
  return JSON.stringify(record, function (this: object, _key: string, raw: unknown) {
    if (typeof raw === "bigint") return raw.toString();
    const value = raw instanceof Error ? serializeError(raw) : raw;
    if (typeof value !== "object" || value === null) return value;
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(value)) return "[Circular]";
    ancestors.push(value);
    return value;
  });
}

class JsonLogger implements Logger {
  private readonly threshold: Threshold;
  private readonly bindings: Fields;
  private readonly sink: Sink;

  constructor(threshold: Threshold, bindings: Fields, sink: Sink) {
    this.threshold = threshold;
    this.bindings = bindings;
    this.sink = sink;
  }

  get level(): string {
    return this.threshold.name;
  }

  set level(name: string) {
    if (!(name in LEVELS))
      throw new Error(`unknown log level "${name}" (allowed: ${Object.keys(LEVELS).join(", ")})`);
    this.threshold.name = name as LevelName;
    this.threshold.value = LEVELS[name as LevelName];
  }

  isLevelEnabled(level: string): boolean {
    const value = LEVELS[level as LevelName];
    return value !== undefined && value >= this.threshold.value;
  }

  child(bindings: Fields): Logger {
    return new JsonLogger(this.threshold, { ...this.bindings, ...bindings }, this.sink);
  }

  private write(level: number, first: Fields | Error | string, msg?: string): void {
    if (level < this.threshold.value) return;
    const record: Fields = { level, time: new Date().toISOString(), ...this.bindings };
    if (typeof first === "string") record.msg = first;
    else {
      if (first instanceof Error) {
        record.err = serializeError(first);
        msg ??= first.message;
      } else Object.assign(record, first);
      if (msg !== undefined) record.msg = msg;
    }
    let line: string;
    try {
      line = encode(record);
    } catch (error) {
      line = JSON.stringify({ level, time: record.time, msg: String(record.msg), logError: String(error) });
    }
    this.sink(`${line}\n`);
  }

  trace: LogFn = (first: Fields | Error | string, msg?: string) => this.write(10, first, msg);
  debug: LogFn = (first: Fields | Error | string, msg?: string) => this.write(20, first, msg);
  info: LogFn = (first: Fields | Error | string, msg?: string) => this.write(30, first, msg);
  warn: LogFn = (first: Fields | Error | string, msg?: string) => this.write(40, first, msg);
  error: LogFn = (first: Fields | Error | string, msg?: string) => this.write(50, first, msg);
  fatal: LogFn = (first: Fields | Error | string, msg?: string) => this.write(60, first, msg);
}

/** A root logger named `name` at `level`; an unknown level name is an error that says the allowed ones. */
export function jsonLogger(level: string, name: string, sink: Sink = stdoutSink): Logger {
  const root = new JsonLogger({ name: "info", value: LEVELS.info }, { name }, sink);
  root.level = level;
  return root;
}
