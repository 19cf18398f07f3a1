// `kubernetes [ZONES...] { ... }` and `autopath [ZONES...] RESOLV-CONF|@kubernetes` (CoreDNS syntax).

import type { Directive } from "./parser.ts";
import { type BuildContext, Reader } from "./reader.ts";
import { parseResolvConf } from "./resolvconf.ts";
import type { AutopathConfig, KubernetesConfig } from "./types.ts";
import { isReverseZone, normalizeName } from "./values.ts";

const OPTIONS = [
  "endpoint",
  "kubeconfig",
  "namespaces",
  "labels",
  "pods",
  "endpoint_pod_names",
  "ttl",
  "noendpoints",
  "fallthrough",
  "ignore",
];
const UNSUPPORTED = [
  "tls",
  "namespace_labels",
  "multicluster",
  "startup_timeout",
  "apiserver_qps",
  "apiserver_burst",
  "apiserver_max_inflight",
];

const SUB_USAGE: Record<string, string> = {
  endpoint: "endpoint URL",
  kubeconfig: "kubeconfig FILE [CONTEXT]",
  namespaces: "namespaces NAMESPACE...",
  labels: "labels SELECTOR",
  pods: "pods disabled|insecure|verified",
  endpoint_pod_names: "endpoint_pod_names",
  ttl: "ttl SECONDS (0 to 3600)",
  noendpoints: "noendpoints",
  fallthrough: "fallthrough [ZONES...]",
  ignore: "ignore empty_service",
};

/** What `kubernetes` means with no options (CoreDNS's defaults); zones and line come from the block. */
export const KUBERNETES_DEFAULTS: Readonly<Omit<KubernetesConfig, "zones" | "line">> = Object.freeze({
  endpoint: null,
  kubeconfig: null,
  namespaces: [],
  labels: null,
  pods: "disabled",
  endpointPodNames: false,
  ttl: 5,
  noEndpoints: false,
  fallthrough: null,
  ignoreEmptyService: false,
});

export function buildKubernetes(ctx: BuildContext, d: Directive): KubernetesConfig {
  const r: Reader = new Reader(ctx, d, "kubernetes [ZONES...] [{ ... }]");
  const zones = d.args.length > 0 ? r.zones(d.args) : [...ctx.blockZones];
  if (!zones.some((z) => !isReverseZone(z))) {
    r.fail(
      d.line,
      "needs at least one non-reverse zone (e.g. cluster.local), not only in-addr.arpa/ip6.arpa zones",
      null,
    );
  }
  const k: KubernetesConfig = { ...KUBERNETES_DEFAULTS, namespaces: [], zones, line: d.line };
  for (const s of r.sub()) {
    if (!OPTIONS.includes(s.name)) {
      if (UNSUPPORTED.includes(s.name))
        r.fail(s.line, `option "${s.name}" is not supported by nodelocaldns`, null);
      r.unknownSub(s, OPTIONS);
    }
    const u = SUB_USAGE[s.name]!;
    r.noBlock(s, u);
    const a0 = s.args[0];
    switch (s.name) {
      case "endpoint":
        // CoreDNS accepts several but uses only the first.
        r.count(s.args, 1, -1, s.line, u, "endpoint");
        if (!/^https?:\/\/[^\s/]+/.test(a0!.text))
          r.fail(a0!.line, `endpoint "${a0!.text}" is not an http(s):// URL`, u);
        k.endpoint = a0!.text;
        break;
      case "kubeconfig":
        r.count(s.args, 1, 2, s.line, u, "kubeconfig");
        k.kubeconfig = { file: a0!.text, context: s.args[1]?.text ?? null };
        break;
      case "namespaces":
        r.count(s.args, 1, -1, s.line, u, "namespaces");
        for (const a of s.args) if (!k.namespaces.includes(a.text)) k.namespaces.push(a.text);
        break;
      case "labels":
        r.count(s.args, 1, -1, s.line, u, "labels");
        k.labels = s.args.map((a) => a.text).join(" ");
        break;
      case "pods": {
        r.count(s.args, 1, 1, s.line, u, "pods");
        const m = a0!.text;
        if (m !== "disabled" && m !== "insecure" && m !== "verified")
          r.fail(a0!.line, `unknown pods mode "${m}"`, u);
        k.pods = m;
        break;
      }
      case "endpoint_pod_names":
      case "noendpoints":
        r.count(s.args, 0, 0, s.line, u, s.name);
        if (s.name === "noendpoints") k.noEndpoints = true;
        else k.endpointPodNames = true;
        break;
      case "ttl":
        r.count(s.args, 1, 1, s.line, u, "ttl");
        k.ttl = r.int(a0!, "ttl", u, 0, 3600);
        break;
      case "fallthrough":
        k.fallthrough = r.zones(s.args, "fallthrough zone");
        break;
      case "ignore":
        r.count(s.args, 1, 1, s.line, u, "ignore");
        if (a0!.text !== "empty_service") r.fail(a0!.line, `unknown ignore value "${a0!.text}"`, u);
        k.ignoreEmptyService = true;
        break;
    }
  }
  return k;
}

export function buildAutopath(ctx: BuildContext, d: Directive): AutopathConfig {
  const usage = "autopath [ZONES...] RESOLV-CONF|@kubernetes";
  const r: Reader = new Reader(ctx, d, usage);
  r.noBlock();
  r.count(d.args, 1, -1, d.line);
  const last = d.args[d.args.length - 1]!;
  const zones = d.args.length > 1 ? r.zones(d.args.slice(0, -1)) : [...ctx.blockZones];
  let search: string[] = [];
  if (last.text.startsWith("@")) {
    if (last.text !== "@kubernetes")
      r.fail(last.line, `"${last.text}": only @kubernetes can supply a search path`);
  } else {
    let text: string;
    try {
      text = ctx.readFile(last.text);
    } catch (e) {
      r.fail(last.line, `cannot read resolv.conf "${last.text}": ${(e as Error).message}`);
    }
    search = parseResolvConf(text)
      .search.map((s) => normalizeName(s))
      .filter((s): s is string => s !== null);
  }
  return { source: last.text, zones, search, line: d.line };
}
