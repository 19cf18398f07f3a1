// One module of error classes, each with a stable code that logs, metrics and tests can match on.

export type ErrorCode =
  | "CONFIG_SYNTAX"
  | "CONFIG_INVALID"
  | "FLAG_INVALID"
  | "RESOLV_CONF"
  | "UPSTREAM_TIMEOUT"
  | "UPSTREAM_UNREACHABLE"
  | "UPSTREAM_BAD_REPLY"
  | "UPSTREAMS_EXHAUSTED"
  | "MAX_CONCURRENT"
  | "LOOP_DETECTED"
  | "EXEC_FAILED"
  | "KUBE_API"
  | "BIND_FAILED"
  | "EXPLAIN_BAD_REQUEST"
  | "EXPLAIN_NOT_FOUND"
  | "EXPLAIN_UNAVAILABLE";

export class DaemonError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A Corefile problem: always names the file and line, what was wrong and what is allowed. */
export class ConfigError extends DaemonError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string, code: ErrorCode = "CONFIG_INVALID") {
    super(code, `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** A command-line flag problem: names the flag, what was given and what is allowed. */
export class FlagError extends DaemonError {
  constructor(message: string) {
    super("FLAG_INVALID", message);
  }
}

/** A failed upstream exchange; the forwarder tries elsewhere or the query gets SERVFAIL. */
export class UpstreamError extends DaemonError {}

/** An external program (ip, iptables) exited non-zero: names the command and its stderr. */
export class ExecError extends DaemonError {
  readonly command: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  constructor(command: string, exitCode: number | null, stderr: string) {
    super("EXEC_FAILED", `command failed (exit ${exitCode}): ${command}: ${stderr.trim()}`);
    this.command = command;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** An explain or cache request the debug endpoint cannot answer: says what was asked and why not. */
export class ExplainError extends DaemonError {
  /** The HTTP status it is answered with. */
  get status(): number {
    return this.code === "EXPLAIN_NOT_FOUND" ? 404 : this.code === "EXPLAIN_UNAVAILABLE" ? 503 : 400;
  }
}
