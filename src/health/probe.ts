// Liveness that tests the real query path. Every interval a round of probes goes to each listening
// DNS socket: K queries for a private name, each from its own fresh UDP socket, so that with
// several processes sharing the port (SO_REUSEPORT hashes the source port) the probes spread over
// them. The dispatcher answers the name without the chain. A round passes only if every probe is
// answered within the timeout; /health is green while a round passed within `staleAfterMs`. A
// wedged socket (full receive queue, blocked loop, a worker that stopped reading) fails rounds.

import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Now } from "../clock/index.ts";
import { buildQuery, nameToWire, TYPE } from "../dns/index.ts";

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface SelfProbeOptions {
  now: Now;
  /** Time between round starts. */
  intervalMs: number;
  /** Healthy while a round passed within this long. */
  staleAfterMs: number;
  /** Probes per target per round, each from a fresh socket (default 8). */
  probesPerRound?: number;
  /** Every probe of a round must be answered within this long (default min(interval, 1 s)). */
  timeoutMs?: number;
  /** Each finished round: passed or not, and how long it took (seconds). */
  onRound?: (passed: boolean, seconds: number) => void;
}

export const DEFAULT_PROBES_PER_ROUND = 8;

/** A per-process name no client can guess, so the probe's short cut cannot be abused. */
export function probeName(): string {
  return `nodelocaldns-health-${randomBytes(8).toString("hex")}.invalid.`;
}

/** Wildcard listeners are probed on loopback. */
function probeHost(host: string): string {
  if (host === "::") return "::1";
  if (host === "0.0.0.0") return "127.0.0.1";
  return host.split("%")[0]!;
}

export class SelfProbe {
  readonly name: string;
  readonly nameWire: Buffer;
  private readonly options: SelfProbeOptions;
  private targets: ProbeTarget[] = [];
  private timer: NodeJS.Timeout | null = null;
  private round: { sockets: dgram.Socket[]; timer: NodeJS.Timeout } | null = null;
  private lastPass: number | null = null;
  private rounds = { passed: 0, failed: 0 };

  constructor(options: SelfProbeOptions, name = probeName()) {
    this.options = options;
    this.name = name;
    this.nameWire = nameToWire(name);
  }

  setTargets(targets: ProbeTarget[]): void {
    this.targets = targets.map((t) => ({ host: probeHost(t.host), port: t.port }));
  }

  start(): void {
    if (this.timer !== null) return;
    const tick = () => this.startRound();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
    tick();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.endRound();
  }

  /** A round passed within staleAfterMs (and the probe runs). */
  healthy(): boolean {
    if (this.timer === null || this.lastPass === null) return false;
    return this.options.now() - this.lastPass <= this.options.staleAfterMs;
  }

  /** Rounds passed and failed so far (tests, diagnostics). */
  get stats(): { passed: number; failed: number } {
    return { ...this.rounds };
  }

  private startRound(): void {
    if (this.round !== null) return; // the previous round is still waiting for its timeout
    const started = performance.now();
    const per = this.options.probesPerRound ?? DEFAULT_PROBES_PER_ROUND;
    const timeoutMs = this.options.timeoutMs ?? Math.min(this.options.intervalMs, 1000);
    const sockets: dgram.Socket[] = [];
    let pending = this.targets.length * per;
    const finish = (passed: boolean) => {
      if (this.round === null || this.round.sockets !== sockets) return;
      this.endRound();
      if (passed) {
        this.lastPass = this.options.now();
        this.rounds.passed++;
      } else {
        this.rounds.failed++;
      }
      this.options.onRound?.(passed, (performance.now() - started) / 1000);
    };
    this.round = { sockets, timer: setTimeout(() => finish(false), timeoutMs) };
    this.round.timer.unref();
    if (pending === 0) {
      finish(true);
      return;
    }
    for (const target of this.targets) {
      for (let i = 0; i < per; i++) {
        const id = Math.floor(Math.random() * 65536);
        const socket = dgram.createSocket(isIPv6(target.host) ? "udp6" : "udp4");
        sockets.push(socket);
        socket.unref();
        socket.on("error", () => {});
        let answered = false;
        socket.on("message", (msg, rinfo) => {
          if (answered || msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2]! & 0x80) === 0) return;
          if (rinfo.port !== target.port) return;
          answered = true;
          if (--pending === 0) finish(true);
        });
        socket.send(buildQuery(id, this.nameWire, TYPE.A, false), target.port, target.host);
      }
    }
  }

  private endRound(): void {
    const round = this.round;
    if (round === null) return;
    this.round = null;
    clearTimeout(round.timer);
    for (const socket of round.sockets) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }
}
