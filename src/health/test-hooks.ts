// Test-only hooks, installed only when NODELOCALDNS_TEST_HOOKS=1: never in production.
// SIGUSR2 toggles reading of the DNS UDP sockets, to simulate a wedged socket: the libuv handle
// stops receiving (recvStop), so the kernel queue really fills while the process, its HTTP
// endpoints and its TCP listeners carry on; the next SIGUSR2 resumes (recvStart).

import dgram from "node:dgram";
import type { Logger } from "../log/index.ts";
import type { ProbeTarget } from "./probe.ts";

export const TEST_HOOKS_ENV = "NODELOCALDNS_TEST_HOOKS";

interface UdpHandle {
  recvStop(): number;
  recvStart(): number;
}

/** The libuv UDP handle behind a dgram socket (Node keeps it under its "state symbol"). */
function handleOf(socket: dgram.Socket): UdpHandle | null {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const state =
    sym === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: unknown }>)[sym];
  const handle = state?.handle as Partial<UdpHandle> | undefined;
  return typeof handle?.recvStop === "function" && typeof handle.recvStart === "function"
    ? (handle as UdpHandle)
    : null;
}

/** The bound UDP sockets of this process that listen on one of `targets`. */
function listeningSockets(targets: readonly ProbeTarget[]): dgram.Socket[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is dgram.Socket => {
    if (!(h instanceof dgram.Socket)) return false;
    try {
      const a = h.address();
      return targets.some((t) => t.port === a.port && t.host === a.address);
    } catch {
      return false; // not bound
    }
  });
}

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === "1";
}

/** Install the SIGUSR2 toggle when the environment asks for test hooks; a no-op otherwise. */
export function installTestHooks(listening: () => ProbeTarget[], log: Logger): void {
  if (!testHooksEnabled()) return;
  let paused = false;
  // Fallback where the libuv handle is not reachable: the socket keeps reading but nothing answers.
  const detached = new Map<dgram.Socket, ((...args: unknown[]) => void)[]>();
  process.on("SIGUSR2", () => {
    paused = !paused;
    const sockets = listeningSockets(listening());
    let mode = "recvStop";
    for (const socket of sockets) {
      const handle = handleOf(socket);
      if (handle !== null) {
        if (paused) handle.recvStop();
        else handle.recvStart();
        continue;
      }
      mode = "listeners";
      if (paused) {
        detached.set(socket, socket.listeners("message") as ((...args: unknown[]) => void)[]);
        socket.removeAllListeners("message");
      } else {
        for (const fn of detached.get(socket) ?? []) socket.on("message", fn);
        detached.delete(socket);
      }
    }
    log.warn(
      { testHook: "udp-read", paused, sockets: sockets.length, mode },
      `test hook: UDP reading ${paused ? "paused" : "resumed"}`,
    );
  });
  log.warn(
    { testHook: "installed" },
    `${TEST_HOOKS_ENV}=1: test hooks installed (SIGUSR2 toggles UDP reading)`,
  );
}
