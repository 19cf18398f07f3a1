// Test-only hooks, installed only when NODELOCALDNS_TEST_HOOKS=1: never in production.
// SIGUSR2 toggles reading of the DNS UDP sockets, to simulate a wedged socket: the libuv handle
// stops receiving (recvStop, or the batched socket's poll stopped), so the kernel queue really
// fills while the process, its HTTP endpoints and its TCP listeners carry on; the next SIGUSR2
// resumes.

import type { Logger } from "../log/index.ts";
import { openEndpoints } from "../udp/index.ts";
import type { ProbeTarget } from "./probe.ts";

export const TEST_HOOKS_ENV = "NODELOCALDNS_TEST_HOOKS";

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === "1";
}

/** Install the SIGUSR2 toggle when the environment asks for test hooks; a no-op otherwise. */
export function installTestHooks(listening: () => ProbeTarget[], log: Logger): void {
  if (!testHooksEnabled()) return;
  let paused = false;
  process.on("SIGUSR2", () => {
    paused = !paused;
    const targets = listening();
    const sockets = openEndpoints().filter((e) =>
      targets.some((t) => t.port === e.port && t.host === e.host),
    );
    for (const socket of sockets) socket.setReading(!paused);
    const mode = "recvStop";
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
