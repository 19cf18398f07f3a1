// Several serving processes on one node (-workers N): the primary's supervisor and the worker glue.
export { Supervisor, type SupervisorOptions } from "./primary.ts";
export { HEARTBEAT_MS, KILL_AFTER_MS, WEDGED_AFTER_MS } from "./protocol.ts";
export { primaryWatches } from "./watch-client.ts";
export { attachWorker } from "./worker.ts";
