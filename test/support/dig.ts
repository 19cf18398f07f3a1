// Runs the real /usr/bin/dig and parses its text output into sections.

import { execFile } from "node:child_process";
import type { Server } from "./client.ts";

export interface Rr {
  name: string;
  ttl: number;
  class: string;
  type: string;
  /** The RDATA as dig prints it (TXT keeps its quotes). */
  data: string;
}

export interface DigResult {
  rcode: string;
  opcode: string;
  /** Header flags as dig prints them: qr aa tc rd ra ad cd. */
  flags: string[];
  id: number;
  question: { name: string; class: string; type: string } | null;
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
  /** The OPT pseudo-record; null when the reply had none. */
  opt: { udp: number; version: number; flags: string[] } | null;
  /** Transport of the final exchange: dig retries over TCP after a TC=1 UDP answer unless ignoreTc. */
  transport: "UDP" | "TCP" | null;
  msgSize?: number;
  /** dig saw a truncated UDP reply and retried over TCP. */
  retriedTcp: boolean;
  raw: string;
}

export interface DigOptions {
  tcp?: boolean;
  /** EDNS UDP size; null = +noedns; omitted = dig's default (1232). */
  bufsize?: number | null;
  /** +ignore: keep a truncated UDP answer instead of retrying over TCP. */
  ignoreTc?: boolean;
  /** Per-try timeout in seconds; default 3. */
  timeoutSec?: number;
  /** Tries; default 1, so one dig = one query (matters for upstream query counts). */
  tries?: number;
  dnssec?: boolean;
  /** Clear RD (+norecurse); RD is set by default. */
  norecurse?: boolean;
  /** Send no EDNS COOKIE option. */
  nocookie?: boolean;
  extraArgs?: string[];
}

export class DigError extends Error {
  readonly exitCode: number | null;
  readonly raw: string;
  constructor(message: string, exitCode: number | null, raw: string) {
    super(message);
    this.exitCode = exitCode;
    this.raw = raw;
  }
}

export function digArgs(server: Server, name: string, type: string, opts: DigOptions): string[] {
  const args = [`@${server.host}`, "-p", String(server.port), name, type];
  args.push(`+time=${opts.timeoutSec ?? 3}`, `+tries=${opts.tries ?? 1}`);
  if (opts.tcp) args.push("+tcp");
  if (opts.bufsize === null) args.push("+noedns");
  else if (opts.bufsize !== undefined) args.push(`+bufsize=${opts.bufsize}`);
  if (opts.ignoreTc) args.push("+ignore");
  if (opts.dnssec) args.push("+dnssec");
  if (opts.norecurse) args.push("+norecurse");
  if (opts.nocookie) args.push("+nocookie");
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/** Runs dig; rejects with DigError when dig gets no answer (timeout, refused connection). */
export function dig(server: Server, name: string, type = "A", opts: DigOptions = {}): Promise<DigResult> {
  const args = digArgs(server, name, type, opts);
  const guardMs = ((opts.timeoutSec ?? 3) * (opts.tries ?? 1) + 10) * 1000;
  return new Promise((resolve, reject) => {
    execFile("/usr/bin/dig", args, { timeout: guardMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const raw = stdout + stderr;
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      if (code !== 0 || !/->>HEADER<<-/.test(stdout)) {
        reject(new DigError(`dig ${args.join(" ")} failed (exit ${code}): ${raw.trim()}`, code, raw));
        return;
      }
      resolve(parseDig(stdout));
    });
  });
}

type Section = "" | "question" | "answer" | "authority" | "additional" | "opt";

function words(s: string): string[] {
  return s.trim().split(/\s+/).filter(Boolean);
}

const RR_RE = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/;

function parseRr(line: string): Rr | null {
  const m = RR_RE.exec(line);
  if (!m) return null;
  return { name: m[1]!, ttl: Number(m[2]), class: m[3]!, type: m[4]!, data: m[5]!.trim() };
}

/** Parses dig's default (non-multiline) output. Only the last message in the text is kept. */
export function parseDig(text: string): DigResult {
  // dig may print several messages (e.g. after a TC retry); take the last header onward.
  const start = text.lastIndexOf(";; Got answer:");
  const body = start >= 0 ? text.slice(start) : text;
  const res: DigResult = {
    rcode: "",
    opcode: "",
    flags: [],
    id: -1,
    question: null,
    answer: [],
    authority: [],
    additional: [],
    opt: null,
    transport: null,
    retriedTcp: /Truncated, retrying in TCP mode/.test(text),
    raw: text,
  };
  let section: Section = "";
  for (const line of body.split("\n")) {
    const header = /->>HEADER<<- opcode: (\S+), status: (\S+), id: (\d+)/.exec(line);
    const flags = /^;; flags:([^;]*);/.exec(line);
    const edns = /^; EDNS: version: (\d+), flags:([^;]*); udp: (\d+)/.exec(line);
    const sect = /^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    const server = /^;; SERVER: .*\((UDP|TCP)\)/.exec(line);
    const size = /^;; MSG SIZE\s+rcvd: (\d+)/.exec(line);
    if (header) {
      res.opcode = header[1]!;
      res.rcode = header[2]!;
      res.id = Number(header[3]);
    } else if (flags) {
      res.flags = words(flags[1]!);
    } else if (edns) {
      res.opt = { version: Number(edns[1]), flags: words(edns[2]!), udp: Number(edns[3]) };
    } else if (sect) {
      section = sect[1]!.toLowerCase() as Section;
    } else if (/^;; OPT PSEUDOSECTION:/.test(line)) {
      section = "opt";
    } else if (server) {
      res.transport = server[1] as "UDP" | "TCP";
    } else if (size) {
      res.msgSize = Number(size[1]);
    } else if (line.trim() === "") {
      section = "";
    } else if (section === "question") {
      const q = /^;(\S+)\s+(\S+)\s+(\S+)/.exec(line);
      if (q) res.question = { name: q[1]!, class: q[2]!, type: q[3]! };
    } else if (section === "answer" || section === "authority" || section === "additional") {
      const rr = line.startsWith(";") ? null : parseRr(line);
      if (rr) res[section].push(rr);
    }
  }
  return res;
}
