// `nodelocaldns explain NAME [--type T] [--pod NAMESPACE/POD | --client IP] [--json] [--live]
// [--server ADDRESS]`: how the running daemon resolves NAME for that client, name by name.

import type { ExplainReport } from "../explain/index.ts";
import { callEndpoint, parseOptions, runCommand, UsageError } from "./debug-client.ts";
import { explainText } from "./explain-text.ts";

export const EXPLAIN_USAGE =
  "usage: nodelocaldns explain NAME [--type T] [--pod NAMESPACE/POD | --client IP] [--json] [--live] [--server ADDRESS]";

export function explainCommand(argv: string[]): Promise<void> {
  return runCommand(EXPLAIN_USAGE, async () => {
    const options = parseOptions(argv, ["type", "pod", "client"], ["live"]);
    if (options.rest.length !== 1)
      throw new UsageError(`explain takes one NAME (given ${options.rest.length})`);
    if (options.values.has("pod") && options.values.has("client"))
      throw new UsageError("give --pod or --client, not both");
    const query = new URLSearchParams({ name: options.rest[0]! });
    for (const [key, value] of options.values) query.set(key, value);
    if (options.switches.has("live")) query.set("live", "1");
    const report = (await callEndpoint(options.server, "GET", `/explain?${query}`)) as ExplainReport;
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : explainText(report));
  });
}
