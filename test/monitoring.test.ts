// The monitoring artefacts against the real daemon: the drop-in ConfigMap's Corefile (moved onto
// loopback) serves a few queries in front of unbound, and every metric the Grafana dashboard and the
// PrometheusRule name must be in its /metrics scrape, with the labels they use, unless it is listed
// below as coming from kube-state-metrics or not implemented yet. promtool checks the rules and the
// dashboard's queries.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import {
  cleanupAll,
  type Daemon,
  freePort,
  PROJECT_ROOT,
  query,
  soaRecord,
  startDaemon,
  startUnbound,
  tempDir,
  type Upstream,
  uniqueLoopback,
} from "./support/index.ts";

/** Series that no nodelocaldns process exports: kube-state-metrics'. */
const FROM_KUBE_STATE_METRICS = ["kube_pod_container_status_restarts_total"];
/** Named in the dashboard and rules, not exported yet: remove from here once they are. */
const NOT_YET_IMPLEMENTED: string[] = [];
/** Labels Prometheus or kube-state-metrics attach, not the daemon. */
const TARGET_LABELS = new Set(["job", "instance", "node", "namespace", "pod", "container", "le"]);

const MON = join(PROJECT_ROOT, "daemonset", "monitoring");
const dashboard = JSON.parse(readFileSync(join(MON, "nodelocaldns-dashboard.json"), "utf8"));
const rule = parseAllDocuments(readFileSync(join(MON, "prometheusrule.yaml"), "utf8"))[0]!.toJS();
const alerts: {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}[] = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON is untyped
const panels: any[] = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
const dashboardExprs: string[] = panels.flatMap((p) =>
  (p.targets ?? []).map((t: { expr: string }) => t.expr),
);
const variableQueries: string[] = dashboard.templating.list
  .filter((v: { type: string }) => v.type === "query")
  .map((v: { definition: string }) => v.definition);

/** The dashboard's Grafana variables replaced by what Grafana would send. */
function grafanaToPromql(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$job", "node-local-dns")
    .replaceAll("$instance", ".*");
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);
/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const lv = /^label_values\(([^,]+),/.exec(expr);
  if (lv) return metricNames(lv[1]!);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names = [...bare.matchAll(/(?<![\w$.])([a-zA-Z_:][\w:]*)(?!\s*\(|[\w:])/g)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase())))];
}

/** [metric, label] for every matcher in a PromQL expression, and the labels of by/without/on clauses. */
function labelsUsed(expr: string): { matchers: [string, string][]; grouping: string[] } {
  const matchers: [string, string][] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)) {
    for (const l of m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) matchers.push([m[1]!, l[1]!]);
  }
  const grouping = [...expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!.split(",").map((s) => s.trim()),
  );
  return { matchers, grouping: grouping.filter((l) => l !== "") };
}

/** The families a scrape declares (# TYPE) and the label names seen on each family's samples. */
function parseScrape(text: string): { declared: Map<string, string>; labels: Map<string, Set<string>> } {
  const declared = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) declared.set(t[1]!, t[2]!);
    const s = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (s && !line.startsWith("#")) {
      const set = labels.get(s[1]!) ?? new Set<string>();
      for (const l of (s[2] ?? "").matchAll(/(\w+)="/g)) set.add(l[1]!);
      labels.set(s[1]!, set);
    }
  }
  return { declared, labels };
}

/** A histogram's series (_bucket, _sum, _count) belong to the family without the suffix. */
function family(name: string, declared: Map<string, string>): string | null {
  if (declared.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return declared.get(base) === "histogram" ? base : null;
}

/** Builds dist/ (types stripped, no typecheck) when a src/ file has no newer compiled twin. */
function ensureBuilt(): string {
  const src = join(PROJECT_ROOT, "src");
  const stale = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .some((e) => {
      const ts = join(e.parentPath, e.name);
      const js = join(PROJECT_ROOT, "dist", relative(src, ts)).replace(/\.ts$/, ".js");
      return !existsSync(js) || statSync(js).mtimeMs < statSync(ts).mtimeMs;
    });
  if (stale) {
    const tsc = join(PROJECT_ROOT, "node_modules", ".bin", "tsc");
    execFileSync(tsc, ["-p", "tsconfig.json", "--noCheck"], {
      cwd: PROJECT_ROOT,
      stdio: "pipe",
      timeout: 120_000,
    });
  }
  const entry = join(PROJECT_ROOT, "dist", "main.js");
  return entry;
}

describe("PrometheusRule and dashboard queries", () => {
  test("every alert has for, a severity, a summary and a description", () => {
    assert.ok(alerts.length >= 7);
    for (const a of alerts) {
      assert.match(a.for ?? "", /^\d+[smh]$/, `${a.alert}: for`);
      assert.ok(["critical", "warning", "info"].includes(a.labels?.severity ?? ""), `${a.alert}: severity`);
      assert.ok((a.annotations?.summary ?? "").length > 10, `${a.alert}: summary`);
      assert.ok((a.annotations?.description ?? "").length > 40, `${a.alert}: description`);
    }
    const covered = alerts.flatMap((a) => metricNames(a.expr));
    for (const m of [
      "coredns_dns_responses_total",
      "coredns_forward_healthcheck_broken_total",
      "coredns_cache_hits_total",
      "coredns_dns_request_duration_seconds_bucket",
      "coredns_kubernetes_watch_synced",
      "coredns_nodecache_setup_errors_total",
      "kube_pod_container_status_restarts_total",
    ]) {
      assert.ok(covered.includes(m), `an alert uses ${m}`);
    }
  });

  test("promtool check rules accepts the PrometheusRule's spec and the dashboard's queries", async () => {
    const dir = await tempDir("nldns-promtool-");
    const check = (name: string, groups: unknown) => {
      const file = join(dir, name);
      writeFileSync(file, stringify(groups));
      return spawnSync("promtool", ["check", "rules", file], { encoding: "utf8", timeout: 30_000 });
    };
    const rules = check("rules.yaml", rule.spec);
    assert.equal(rules.status, 0, rules.stdout + rules.stderr);
    assert.match(rules.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
    const records = dashboardExprs.map((e, i) => ({
      record: `dashboard:query${i}`,
      expr: grafanaToPromql(e),
    }));
    const dash = check("dashboard.yaml", { groups: [{ name: "dashboard", rules: records }] });
    assert.equal(dash.status, 0, dash.stdout + dash.stderr);
    // And it can fail.
    const bad = check("bad.yaml", {
      groups: [{ name: "x", rules: [{ alert: "A", expr: "sum by (x (up)" }] }],
    });
    assert.notEqual(bad.status, 0);
  });

  test("the metric-name extraction finds names and skips functions, labels and keywords", () => {
    assert.deepEqual(
      metricNames(
        'sum by (rcode) (rate(a_total{job=~"x", rcode="SERVFAIL"}[5m])) / on (instance) b_seconds_bucket > 0.05 and time() - c offset 5m',
      ),
      ["a_total", "b_seconds_bucket", "c"],
    );
    assert.deepEqual(metricNames('label_values(coredns_build_info{job=~"$job"}, instance)'), [
      "coredns_build_info",
    ]);
  });
});

describe("every metric the dashboard and alerts name is in a real scrape", () => {
  let upstream: Upstream;
  let daemon: Daemon;
  let scrape: string;

  before(async () => {
    const entry = ensureBuilt();
    upstream = await startUnbound({
      host: uniqueLoopback(),
      records: [
        soaRecord("cluster.local", { ttl: 30, minimum: 5 }),
        "kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10",
        soaRecord("in-addr.arpa", { ttl: 30, minimum: 5 }),
        "10.0.96.10.in-addr.arpa. 30 IN PTR kube-dns.kube-system.svc.cluster.local.",
        soaRecord("example.test", { ttl: 300, minimum: 30 }),
        "www.example.test. 300 IN A 192.0.2.1",
      ],
    });
    // The shipped drop-in Corefile, its placeholders and ports moved onto loopback.
    const cm = parseAllDocuments(
      readFileSync(join(PROJECT_ROOT, "daemonset/dropin/nodelocaldns.yaml"), "utf8"),
    )
      .map((d) => d.toJS())
      .find((o) => o.kind === "ConfigMap");
    const [local, service] = [uniqueLoopback(), uniqueLoopback()];
    const port = await freePort(local);
    const [metricsPort, healthPort] = [await freePort(local), await freePort(local)];
    const dead = uniqueLoopback();
    const corefile = `${(cm.data.Corefile as string)
      .replaceAll(":53 {", `:${port} {`)
      .replaceAll("__PILLAR__DNS__DOMAIN__", "cluster.local")
      .replaceAll("__PILLAR__LOCAL__DNS__:8080", `${local}:${healthPort}`)
      .replaceAll("__PILLAR__LOCAL__DNS__", local)
      .replaceAll("__PILLAR__DNS__SERVER__", service)
      .replaceAll("__PILLAR__CLUSTER__DNS__", upstream.address)
      .replaceAll("__PILLAR__UPSTREAM__SERVERS__", upstream.address)
      .replaceAll("prometheus :9253", `prometheus ${local}:${metricsPort}`)}
broken.test:${port} {
    bind ${local}
    forward . ${dead}:${await freePort(dead)} {
        max_fails 1
        health_check 200ms
    }
    prometheus ${local}:${metricsPort}
}
`;
    const server = { host: local, port };
    daemon = await startDaemon({ corefile, entry, readyProbe: server, readyTimeoutMs: 20_000 });
    for (let i = 0; i < 3; i++) {
      assert.equal((await query(server, "kube-dns.kube-system.svc.cluster.local", "A")).rcode, "NOERROR");
      assert.equal(
        (await query({ host: service, port }, "www.example.test", "A", { proto: "tcp" })).rcode,
        "NOERROR",
      );
      await query(server, "10.0.96.10.in-addr.arpa", "PTR");
      await query(server, "missing.example.test", "A");
    }
    assert.equal((await query(server, "www.broken.test", "A", { timeoutMs: 8000 })).rcode, "SERVFAIL");
    await new Promise((r) => setTimeout(r, 600)); // let a health check or two fail
    const res = await fetch(`http://${local}:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    scrape = await res.text();
    if (process.env.DUMP_SCRAPE) writeFileSync(process.env.DUMP_SCRAPE, scrape);
  });

  after(async () => {
    await daemon?.stop();
    await upstream?.stop();
    await cleanupAll();
  });

  test("names: in the scrape, or listed as kube-state-metrics' or not yet implemented", () => {
    const { declared } = parseScrape(scrape);
    const referenced = new Set(
      [...dashboardExprs, ...variableQueries, ...alerts.map((a) => a.expr)].flatMap(metricNames),
    );
    const missing: string[] = [];
    for (const name of referenced) {
      const found = family(name, declared) !== null;
      if (FROM_KUBE_STATE_METRICS.includes(name)) assert.ok(!found, `${name} is kube-state-metrics'`);
      else if (NOT_YET_IMPLEMENTED.includes(name))
        assert.ok(!found, `${name} is implemented now: drop it from NOT_YET_IMPLEMENTED`);
      else if (!found) missing.push(name);
    }
    assert.deepEqual(missing, [], `referenced but not exported:\n${missing.join("\n")}`);
    for (const name of [...FROM_KUBE_STATE_METRICS, ...NOT_YET_IMPLEMENTED])
      assert.ok(referenced.has(name), `${name} still used`);
  });

  test("labels: the matchers and groupings use labels the daemon's series carry", () => {
    const { declared, labels } = parseScrape(scrape);
    // Series the queries above produce (others may be declared with no sample yet).
    const sampled = (name: string) => {
      const fam = family(name, declared);
      const sets = [...labels].filter(([n]) => fam !== null && (n === fam || n.startsWith(`${fam}_`)));
      return sets.length === 0 ? null : new Set(sets.flatMap(([, s]) => [...s]));
    };
    for (const name of [
      "coredns_dns_responses_total",
      "coredns_dns_request_duration_seconds_bucket",
      "coredns_cache_hits_total",
      "coredns_cache_requests_total",
      "coredns_proxy_request_duration_seconds_bucket",
      "coredns_build_info",
    ]) {
      assert.ok(sampled(name), `${name} has samples after the queries`);
    }
    const problems: string[] = [];
    for (const expr of [...dashboardExprs, ...alerts.map((a) => a.expr)]) {
      const { matchers, grouping } = labelsUsed(expr);
      for (const [metric, label] of matchers) {
        const have = sampled(metric);
        if (have && !TARGET_LABELS.has(label) && !have.has(label))
          problems.push(`${metric} has no label ${label}`);
      }
      const sets = metricNames(expr).map(sampled);
      if (sets.every((s) => s !== null)) {
        const union = new Set(sets.flatMap((s) => [...s!]));
        for (const l of grouping)
          if (!TARGET_LABELS.has(l) && !union.has(l)) problems.push(`grouping by ${l} in: ${expr}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("the SERVFAIL panel's series exists: rcode=SERVFAIL was counted", () => {
    assert.match(scrape, /^coredns_dns_responses_total\{[^}]*rcode="SERVFAIL"[^}]*\} [1-9]/m);
    assert.match(scrape, /^coredns_cache_hits_total\{[^}]*\} [1-9]/m);
  });
});
