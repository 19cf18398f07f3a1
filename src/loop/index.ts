// The `loop` directive: forwarding-loop detection per server block.
export { LOOP_TIMINGS, type LoopEvents, LoopHandler, type LoopInfo, type LoopTimings } from "./handler.ts";
export { isProbeShaped, probeName, sendProbe } from "./probe.ts";
