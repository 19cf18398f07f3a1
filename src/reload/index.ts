// Config reload: jittered polling of the Corefile (and its node-cache sources); swap on change.
export {
  type CheckResult,
  CONFIG_SYNC_PERIOD_MS,
  ReloadController,
  type ReloadDeps,
  reloadOf,
  sha512,
} from "./controller.ts";
export { Poller, type PollerOptions } from "./poller.ts";
