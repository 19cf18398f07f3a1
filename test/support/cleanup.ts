// One registry of things to undo when a test file ends: child processes and temp dirs.
// Async cleanups run from `cleanupAll()` (call it in `after()`); the sync half also runs on process exit
// and on SIGINT/SIGTERM, so nothing outlives a crashed or interrupted test process.

interface Entry {
  run: () => Promise<void> | void;
  sync?: () => void;
}

const entries = new Set<Entry>();
let hooked = false;

function runSync(): void {
  for (const e of entries) {
    try {
      e.sync?.();
    } catch {
      // best effort at exit
    }
  }
  entries.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", runSync);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = (): void => {
      runSync();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/**
 * Registers `run` for `cleanupAll()` and `sync` for process exit. Returns a function that unregisters
 * both (call it once the resource is released normally).
 */
export function onCleanup(run: () => Promise<void> | void, sync?: () => void): () => void {
  hook();
  const entry: Entry = sync ? { run, sync } : { run };
  entries.add(entry);
  return () => {
    entries.delete(entry);
  };
}

/** Runs every registered cleanup, newest first; errors are collected and rethrown together. */
export async function cleanupAll(): Promise<void> {
  const list = [...entries].reverse();
  entries.clear();
  const errors: unknown[] = [];
  for (const e of list) {
    try {
      await e.run();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
}
