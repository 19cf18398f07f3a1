// An explain report as text for a terminal: the client and its resolver settings, each name asked
// with who answers it, where the search stops, the final answer and what autopath saved.

import type { ExplainReport, ExplainStep } from "../explain/index.ts";

function clientLine(report: ExplainReport): string {
  const c = report.client;
  const who =
    c.namespace === null
      ? `client ${c.ip} (not a pod of this node: the node's resolver settings)`
      : c.pod === null
        ? `a pod in namespace ${c.namespace}${c.known ? "" : " (none running here; as one would resolve)"}`
        : `pod ${c.namespace}/${c.pod}${c.ip === null ? "" : ` (${c.ip})`}${c.known ? "" : " (not known here)"}`;
  return `explain ${report.name} ${report.type} for ${who}${report.live ? ", live" : ""}`;
}

function orderLine(report: ExplainReport): string {
  if (report.name.endsWith(".")) return `"${report.name}" ends with a dot: asked as it is, no search list`;
  const dots = report.name.split(".").length - 1;
  return dots >= report.ndots
    ? `"${report.name}" has ${dots} dots, at least ndots ${report.ndots}: the name as given first, then the search list`
    : `"${report.name}" has ${dots} dot${dots === 1 ? "" : "s"}, fewer than ndots ${report.ndots}: the search list first, then the name as given`;
}

function outcome(step: ExplainStep): string {
  const parts = [`${step.answeredBy}:`, step.rcode ?? "answer unknown"];
  if (step.ttl !== null) parts.push(`ttl ${step.ttl}`);
  if (step.stale) parts.push("STALE");
  if (step.upstream !== null) parts.push(`upstream ${step.upstream}${step.asked ? "" : " (not asked)"}`);
  if (step.ms !== null) parts.push(`${step.ms} ms`);
  return parts.join(" ");
}

function stepLines(step: ExplainStep, label: string, indent: string): string[] {
  const lines = [`${indent}${label} ${step.name} ${step.type}   block ${step.block ?? "(none)"}`];
  lines.push(`${indent}     ${outcome(step)}`);
  if (step.note !== "") lines.push(`${indent}     ${step.note}`);
  for (const answer of step.answers) lines.push(`${indent}       ${answer}`);
  for (const tried of step.autopath ?? []) lines.push(...stepLines(tried, "-> tried", `${indent}     `));
  return lines;
}

export function explainText(report: ExplainReport): string {
  const lines = [
    clientLine(report),
    `search: ${report.search.join(" ") || "(none)"}   ndots: ${report.ndots}`,
    orderLine(report),
    "",
  ];
  report.steps.forEach((step, i) => {
    lines.push(...stepLines(step, `${String(i + 1).padStart(2)}.`, ""));
  });
  lines.push("", `stop: ${report.stop}`);
  if (report.notAsked.length > 0) {
    const when = report.final.rcode === null ? "asked next only on a negative answer" : "not asked";
    lines.push(`${when}: ${report.notAsked.join(" ")}`);
  }
  lines.push(`final: ${report.final.rcode ?? "unknown (run with --live to ask the upstream)"}`);
  for (const answer of report.final.answers) lines.push(`  ${answer}`);
  const last = report.steps.at(-1);
  if (
    !report.live &&
    last?.answeredBy === "cache" &&
    last.kind === "success" &&
    report.final.answers.length === 0
  )
    lines.push("  (a cached answer: its records are shown with --live, which asks for real)");
  if (report.autopathSaved > 0)
    lines.push(`autopath saved ${report.autopathSaved} quer${report.autopathSaved === 1 ? "y" : "ies"}`);
  return `${lines.join("\n")}\n`;
}
