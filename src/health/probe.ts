// Liveness that tests the real query path: a query for a private name goes out through a UDP
// socket to each listening DNS socket every interval; the dispatcher answers it without the chain.
// A wedged socket (full receive queue, blocked loop) stops answering and /health turns red.

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
  intervalMs: number;
  /** Healthy while every target answered within this long. */
  staleAfterMs: number;
}

/** A per-process name no client can guess, so the probe's short cut cannot be abused. */
export function probeName(): string {
  return `nodelocaldns-health-${randomBytes(8).toString("hex")}.invalid.`;
}

export class SelfProbe {
  readonly name: string;
  readonly nameWire: Buffer;
  private readonly options: SelfProbeOptions;
  private targets: ProbeTarget[] = [];
  private readonly lastAnswer = new Map<string, number>();
  private readonly sockets: { v4: dgram.Socket | null; v6: dgram.Socket | null } = { v4: null, v6: null };
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;

  constructor(options: SelfProbeOptions, name = probeName()) {
    this.options = options;
    this.name = name;
    this.nameWire = nameToWire(name);
  }

  /** Probe these addresses (wildcard listeners are probed on loopback). */
  setTargets(targets: ProbeTarget[]): void {
    this.targets = targets.map((t) => ({
      host: t.host === "::" ? "::1" : t.host === "0.0.0.0" ? "127.0.0.1" : t.host,
      port: t.port,
    }));
  }

  start(): void {
    if (this.timer !== null) return;
    this.startedAt = this.options.now();
    for (const family of ["v4", "v6"] as const) {
      const socket = dgram.createSocket(family === "v4" ? "udp4" : "udp6");
      socket.on("message", (msg, rinfo) => {
        if (msg.length < 12) return;
        this.lastAnswer.set(`${rinfo.address}|${rinfo.port}`, this.options.now());
      });
      socket.on("error", () => {});
      socket.unref();
      this.sockets[family] = socket;
    }
    const tick = () => this.sendAll();
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const family of ["v4", "v6"] as const) {
      this.sockets[family]?.close();
      this.sockets[family] = null;
    }
  }

  /** Every target answered recently (or we started too recently to know). */
  healthy(): boolean {
    const now = this.options.now();
    if (this.timer === null) return false;
    for (const target of this.targets) {
      const last = this.lastAnswer.get(`${target.host}|${target.port}`) ?? this.startedAt;
      if (now - last > this.options.staleAfterMs) return false;
    }
    return true;
  }

  private sendAll(): void {
    const query = buildQuery(Math.floor(Math.random() * 65536), this.nameWire, TYPE.A, false);
    for (const target of this.targets) {
      const socket = isIPv6(target.host) ? this.sockets.v6 : this.sockets.v4;
      socket?.send(query, target.port, target.host);
    }
  }
}
