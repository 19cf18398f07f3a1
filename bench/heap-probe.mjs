// Preloaded (node --import) into a server under measurement: on SIGUSR2 it prints one marker line
// with V8's heap space figures, so the --trace-gc-nvp lines between two markers are one window.
import { writeSync } from "node:fs";
import v8 from "node:v8";

let mark = 0;
process.on("SIGUSR2", () => {
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size;
  const line = JSON.stringify({ mark: ++mark, heapUsed: v8.getHeapStatistics().used_heap_size, spaces });
  writeSync(1, `NLD-HEAP-MARK ${line}\n`);
});
