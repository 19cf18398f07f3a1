// A preload for the daemon (`node --import ./bench/promoted-sites.ts dist/main.js ...`) that finds
// what fills V8's old generation under load: allocations are sampled, and those that die young are
// dropped (includeObjectsCollectedByMinorGC: false) while those that were promoted are kept even
// once dead (includeObjectsCollectedByMajorGC: true). On SIGUSR2 it writes the sites by size, each
// with its last four frames, to /tmp/promoted-sites-PID.txt.

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const session = new Session();
session.connect();
session.post("HeapProfiler.enable");
session.post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: false,
});

function frame(node: ProfileNode): string {
  const f = node.callFrame;
  const file = f.url.replace(/.*\/dist\//, "").replace(/.*node_modules\//, "");
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

process.on("SIGUSR2", () => {
  session.post("HeapProfiler.getSamplingProfile", (error, result) => {
    if (error !== null) return;
    const bySite = new Map<string, number>();
    const walk = (node: ProfileNode, stack: string[]) => {
      const path = [...stack, frame(node)];
      if (node.selfSize > 0) {
        const site = path.slice(-4).join(" < ");
        bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, path);
    };
    walk((result as { profile: { head: ProfileNode } }).profile.head, []);
    const total = [...bySite.values()].reduce((a, b) => a + b, 0);
    const lines = [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 60)
      .map(([site, bytes]) => `${(bytes / 1048576).toFixed(2)} MiB  ${site}`);
    writeFileSync(
      `/tmp/promoted-sites-${process.pid}.txt`,
      `promoted (sampled) ${(total / 1048576).toFixed(1)} MiB\n${lines.join("\n")}\n`,
    );
  });
});
