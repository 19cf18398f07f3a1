// The shipping artefacts: every YAML under daemonset/ against the Kubernetes 1.34 API schemas
// (kubernetes-models) plus a strict unknown-field check (TypeScript's excess-property check on the
// same package's types), the Corefiles through our parser, the DaemonSet args through our flags, the
// variants' promises (drop-in = stock, full = surge-safe), kustomize output, and the Dockerfile.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import {
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Service, ServiceAccount } from "kubernetes-models/v1";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { SHIPPED_ENV, SHIPPED_NODE_FLAGS } from "../bench/setup.ts";
import { parseFlags } from "../src/cli/index.ts";
import { parseCorefile } from "../src/config/index.ts";
import { PROJECT_ROOT, tempDir } from "./support/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data
type Obj = Record<string, any>;
interface Doc {
  file: string;
  index: number;
  obj: Obj;
}

const DIR = join(PROJECT_ROOT, "daemonset");
const MODELS: Record<string, { model: new (o: never) => { validate(): void }; type: string }> = {
  "v1/ServiceAccount": { model: ServiceAccount, type: 'import("kubernetes-models/v1").IServiceAccount' },
  "v1/Service": { model: Service, type: 'import("kubernetes-models/v1").IService' },
  "v1/ConfigMap": { model: ConfigMap, type: 'import("kubernetes-models/v1").IConfigMap' },
  "apps/v1/DaemonSet": { model: DaemonSet, type: 'import("kubernetes-models/apps/v1").IDaemonSet' },
  "rbac.authorization.k8s.io/v1/ClusterRole": {
    model: ClusterRole,
    type: 'import("kubernetes-models/rbac.authorization.k8s.io/v1").IClusterRole',
  },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": {
    model: ClusterRoleBinding,
    type: 'import("kubernetes-models/rbac.authorization.k8s.io/v1").IClusterRoleBinding',
  },
  "monitoring.coreos.com/v1/PrometheusRule": {
    model: PrometheusRule,
    type: 'import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1").IPrometheusRule',
  },
  "monitoring.coreos.com/v1/ServiceMonitor": {
    model: ServiceMonitor,
    type: 'import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1").IServiceMonitor',
  },
};

/** Values a cluster would put in: the install-time sed, then node-cache's own substitution. */
const SAMPLE = {
  __PILLAR__LOCAL__DNS__: "169.254.20.10",
  __PILLAR__DNS__SERVER__: "10.96.0.10",
  __PILLAR__DNS__DOMAIN__: "cluster.local",
  __PILLAR__CLUSTER__DNS__: "10.96.0.11",
  __PILLAR__UPSTREAM__SERVERS__: "192.0.2.53 192.0.2.54",
};
function fill(text: string): string {
  return Object.entries(SAMPLE).reduce((t, [k, v]) => t.replaceAll(k, v), text);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function parseYaml(text: string, file: string): Obj[] {
  return parseAllDocuments(text).flatMap((d, i) => {
    assert.deepEqual(d.errors, [], `${file} document ${i}: YAML errors`);
    const o = d.toJS({ maxAliasCount: 0 }) as Obj | null;
    return o === null ? [] : [o];
  });
}

function load(files: string[]): Doc[] {
  return files.flatMap((f) =>
    parseYaml(readFileSync(f, "utf8"), f).map((obj, index) => ({
      file: relative(PROJECT_ROOT, f),
      index,
      obj,
    })),
  );
}

const all = load(yamlFiles(DIR));
const objects = all.filter((d) => d.obj.kind !== "Kustomization");
const inDir = (sub: string) => objects.filter((d) => d.file.startsWith(`daemonset/${sub}/`));
const one = (docs: Doc[], kind: string, name?: string): Obj => {
  const found = docs.filter(
    (d) => d.obj.kind === kind && (name === undefined || d.obj.metadata?.name === name),
  );
  assert.equal(found.length, 1, `exactly one ${kind} ${name ?? ""}`);
  return found[0]!.obj;
};

/** Schema validation (types, enums, required, formats) of one object; throws with the path. */
function validateObject(o: Obj, where: string): void {
  const entry = MODELS[`${o.apiVersion}/${o.kind}`];
  assert.ok(entry, `${where}: no schema for ${o.apiVersion} ${o.kind}`);
  assert.doesNotThrow(() => new entry.model(o as never).validate(), `${where}: schema`);
}

/** Unknown fields (what `kubectl apply --validate=strict` rejects), via TypeScript's excess-property check. */
function unknownFieldErrors(docs: { obj: Obj; where: string }[]): string[] {
  const fileName = join(PROJECT_ROOT, "test", "__manifests_strict__.ts");
  const starts: number[] = [];
  let source = "";
  for (const [i, d] of docs.entries()) {
    starts.push(source.length);
    source += `export const o${i}: ${MODELS[`${d.obj.apiVersion}/${d.obj.kind}`]!.type} = ${JSON.stringify(d.obj)};\n`;
  }
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ["lib.es2024.d.ts"],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2024,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (name, lang, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, lang)
      : getSourceFile.call(host, name, lang, ...rest);
  const fileExists = host.fileExists;
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((diag) => {
    const at = diag.start ?? 0;
    const i = starts.findLastIndex((s) => s <= at);
    return `${docs[i]?.where ?? diag.file?.fileName}: ${ts.flattenDiagnosticMessageText(diag.messageText, " ")}`;
  });
}

describe("daemonset/ YAML", () => {
  test("every file parses; every object has a schema and passes it", () => {
    assert.deepEqual(
      ["dropin", "full", "monitoring"].map((sub) => inDir(sub).length),
      [5, 7, 2],
    );
    assert.equal(objects.length, 14);
    for (const d of objects) validateObject(d.obj, `${d.file}#${d.index}`);
  });

  test("no unknown fields anywhere (strict field validation)", () => {
    const errors = unknownFieldErrors(objects.map((d) => ({ obj: d.obj, where: `${d.file}#${d.index}` })));
    assert.deepEqual(errors, []);
    // The check itself can fail: a misspelt field and a wrong type are caught.
    const ds = structuredClone(one(inDir("full"), "DaemonSet"));
    ds.spec.template.spec.containers[0].readinesProbe = {};
    ds.spec.template.spec.hostNetwork = "yes";
    const bad = unknownFieldErrors([{ obj: ds, where: "bad" }]).join("\n");
    assert.match(bad, /readinesProbe/);
    assert.match(bad, /hostNetwork|boolean/);
  });

  test("the schema check can fail", () => {
    const svc = structuredClone(one(inDir("dropin"), "Service", "kube-dns-upstream"));
    svc.spec.ports[0].protocol = "DNS";
    assert.throws(() => validateObject(svc, "bad"), /protocol/);
  });
});

describe("Corefiles and args", () => {
  const stock = readFileSync(
    join(PROJECT_ROOT, "test/fixtures/corefiles/nodelocaldns-stock.Corefile"),
    "utf8",
  );
  const corefile = (sub: string) => one(inDir(sub), "ConfigMap", "node-local-dns").data.Corefile as string;
  const parse = (text: string) => parseCorefile(fill(text), { file: "Corefile", readFile: () => "" });

  test("drop-in ConfigMap holds the stock Corefile, byte for byte, and it parses", () => {
    assert.equal(corefile("dropin"), stock);
    const cfg = parse(corefile("dropin"));
    assert.deepEqual(
      cfg.blocks.map((b) => b.zones[0]),
      ["cluster.local.", "in-addr.arpa.", "ip6.arpa.", "."],
    );
    for (const b of cfg.blocks) assert.deepEqual(b.bind, ["169.254.20.10", "10.96.0.10"]);
    assert.equal(cfg.blocks[0]!.forward?.forceTcp, true);
    assert.deepEqual(
      cfg.blocks[3]!.forward?.to.map((u) => u.host),
      ["192.0.2.53", "192.0.2.54"],
    );
  });

  test("full ConfigMap: stock plus kubernetes, autopath and ready in the cluster block; it parses", () => {
    const text = corefile("full");
    const cfg = parse(text);
    const cluster = cfg.blocks[0]!;
    assert.deepEqual(cluster.kubernetes?.zones, ["cluster.local.", "in-addr.arpa.", "ip6.arpa."]);
    assert.equal(cluster.kubernetes?.pods, "verified");
    assert.deepEqual(cluster.kubernetes?.fallthrough, ["in-addr.arpa.", "ip6.arpa."]);
    assert.equal(cluster.autopath?.source, "@kubernetes");
    assert.match(cluster.ready ?? "", /:8181$/);
    assert.equal(cluster.forward?.to[0]?.host, "10.96.0.11");
    // Everything else is the stock text.
    const stripped = text
      .replace(/ {4}kubernetes [\s\S]*?\n {4}}\n {4}autopath @kubernetes\n/, "")
      .replace(/ {4}ready :8181\n/, "");
    assert.equal(stripped, stock);
  });

  test("an unsubstituted or broken Corefile is rejected (the check can fail)", () => {
    assert.throws(() => parseCorefile(stock, { file: "Corefile", readFile: () => "" }));
    assert.throws(() => parse(stock.replace("force_tcp", "force_tpc")));
  });

  for (const variant of ["dropin", "full"]) {
    test(`${variant}: DaemonSet args are flags our CLI accepts, with the stock values`, () => {
      const c = one(inDir(variant), "DaemonSet").spec.template.spec.containers[0];
      const flags = parseFlags((c.args as string[]).map(fill));
      assert.deepEqual(flags.localip, ["169.254.20.10", "10.96.0.10"]);
      assert.equal(flags.conf, "/etc/Corefile");
      assert.equal(flags.upstreamsvc, "kube-dns-upstream");
      assert.equal(flags.pidfile, "/tmp/node-cache.pid");
      assert.equal(c.command, undefined, "the image's entrypoint must run");
      assert.throws(() => parseFlags([...c.args, "-no-such-flag"]));
    });
  }
});

describe("variants", () => {
  const pod = (sub: string) => one(inDir(sub), "DaemonSet").spec.template.spec;
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8"));

  for (const variant of ["dropin", "full"]) {
    test(`${variant}: node-cache's pod shape, probes and mounts`, () => {
      const docs = inDir(variant);
      const spec = pod(variant);
      const c = spec.containers[0];
      assert.equal(c.name, "node-cache");
      assert.equal(c.image, `nodelocaldns:${pkg.version}`);
      assert.equal(spec.hostNetwork, true);
      assert.equal(spec.dnsPolicy, "Default");
      assert.equal(spec.priorityClassName, "system-node-critical");
      assert.equal(spec.serviceAccountName, one(docs, "ServiceAccount").metadata.name);
      assert.deepEqual(c.securityContext.capabilities.add, ["NET_ADMIN"]);
      assert.equal(c.securityContext.privileged, undefined);
      const tolerated = spec.tolerations.map((t: Obj) => t.key ?? t.effect);
      assert.deepEqual(tolerated, ["CriticalAddonsOnly", "NoExecute", "NoSchedule"]);
      assert.deepEqual(c.livenessProbe.httpGet, {
        host: "__PILLAR__LOCAL__DNS__",
        path: "/health",
        port: 8080,
      });
      const vols = Object.fromEntries(spec.volumes.map((v: Obj) => [v.name, v]));
      assert.deepEqual(vols["config-volume"].configMap.items, [{ key: "Corefile", path: "Corefile.base" }]);
      assert.equal(vols["config-volume"].configMap.name, one(docs, "ConfigMap").metadata.name);
      assert.deepEqual(vols["kube-dns-config"].configMap, { name: "kube-dns", optional: true });
      assert.deepEqual(vols["xtables-lock"].hostPath, { path: "/run/xtables.lock", type: "FileOrCreate" });
      const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.name, m.mountPath]));
      assert.deepEqual(mounts, {
        "xtables-lock": "/run/xtables.lock",
        "config-volume": "/etc/coredns",
        "kube-dns-config": "/etc/kube-dns",
      });
      const metrics = one(docs, "Service", "node-local-dns");
      assert.equal(metrics.spec.clusterIP, "None");
      assert.equal(metrics.metadata.annotations["prometheus.io/port"], "9253");
      assert.equal(metrics.spec.ports[0].port, 9253);
      assert.deepEqual(metrics.spec.selector, one(docs, "DaemonSet").spec.selector.matchLabels);
      assert.equal(one(docs, "Service", "kube-dns-upstream").spec.selector["k8s-app"], "kube-dns");
    });
  }

  test("drop-in keeps the stock objects (same kinds and names) and stock update strategy", () => {
    const ids = inDir("dropin").map((d) => `${d.obj.kind}/${d.obj.metadata.name}`);
    assert.deepEqual(ids, [
      "ServiceAccount/node-local-dns",
      "Service/kube-dns-upstream",
      "ConfigMap/node-local-dns",
      "DaemonSet/node-local-dns",
      "Service/node-local-dns",
    ]);
    assert.deepEqual(one(inDir("dropin"), "DaemonSet").spec.updateStrategy, {
      rollingUpdate: { maxUnavailable: "10%" },
    });
  });

  test("full: NODE_NAME, readiness on the Corefile's ready port, surge updates with no hostPorts", () => {
    const ds = one(inDir("full"), "DaemonSet");
    const c = ds.spec.template.spec.containers[0];
    assert.deepEqual(c.env, [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/ready", port: 8181 });
    assert.deepEqual(ds.spec.updateStrategy, {
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    // hostNetwork turns every containerPort into a hostPort, which would block the surge pod.
    assert.equal(c.ports, undefined);
  });

  test("full: RBAC lets the ServiceAccount list/watch what the kubernetes directive watches", () => {
    const docs = inDir("full");
    const role = one(docs, "ClusterRole");
    const binding = one(docs, "ClusterRoleBinding");
    assert.equal(binding.roleRef.name, role.metadata.name);
    const sa = one(docs, "ServiceAccount").metadata;
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa.name, namespace: sa.namespace }]);
    const allowed = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r: Obj) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const [g, r] of [
      ["", "services"],
      ["", "namespaces"],
      ["", "pods"],
      ["discovery.k8s.io", "endpointslices"],
    ]) {
      for (const verb of ["list", "watch"]) assert.ok(allowed(g!, r!, verb), `${verb} ${g}/${r}`);
    }
    assert.ok(
      !role.rules.some((r: Obj) => r.verbs.some((v: string) => !["list", "watch", "get"].includes(v))),
    );
  });
});

const kubectl = spawnSync("kubectl", ["kustomize", "--help"], { encoding: "utf8", timeout: 20_000 });
describe("kustomize", { skip: kubectl.status !== 0 && "kubectl kustomize is not installed" }, () => {
  for (const dir of ["", "dropin", "full", "monitoring"]) {
    test(`kubectl kustomize daemonset/${dir} builds valid objects`, () => {
      const out = execFileSync("kubectl", ["kustomize", join(DIR, dir)], {
        encoding: "utf8",
        timeout: 30_000,
      });
      const built = parseYaml(out, dir);
      for (const o of built) validateObject(o, `kustomize ${dir} ${o.kind}`);
      assert.deepEqual(unknownFieldErrors(built.map((o) => ({ obj: o, where: `${dir} ${o.kind}` }))), []);
      const variant = dir === "" ? "dropin" : dir;
      if (variant !== "monitoring") {
        assert.equal(built.length, inDir(variant).length);
        const cm = built.find((o) => o.kind === "ConfigMap")!;
        assert.equal(cm.data.Corefile, one(inDir(variant), "ConfigMap").data.Corefile);
      } else {
        const cm = built.find((o) => o.kind === "ConfigMap")!;
        assert.equal(cm.metadata.labels.grafana_dashboard, "1");
        JSON.parse(cm.data["nodelocaldns-dashboard.json"]);
      }
    });
  }
});

describe("Dockerfile", () => {
  const text = readFileSync(join(PROJECT_ROOT, "Dockerfile"), "utf8");
  const lines = text.split("\n");

  test("multi-stage: Node 24 from the npm registry, build then prune, final stage with only the compiled app", () => {
    assert.match(text, /^ARG BASE_IMAGE=debian:bookworm-slim$/m);
    assert.deepEqual(
      lines.filter((l) => l.startsWith("FROM ")),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      ["FROM ${BASE_IMAGE} AS node", "FROM node AS build", "FROM ${BASE_IMAGE}"],
    );
    // The image's Node is the one the tests run on: package-lock.json's `node`.
    const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    assert.ok(lines.includes(`ARG NODE_VERSION=${lock.packages["node_modules/node"].version}`));
    assert.match(text, /^ARG NODE_INTEGRITY=sha512-[A-Za-z0-9+/]{86}==$/m);
    assert.match(text, /npm-cli\.js ci --ignore-scripts\b/);
    assert.match(text, /typescript\/bin\/tsc -p tsconfig\.json/);
    assert.match(text, /npm-cli\.js prune --omit=dev\b/);
    assert.match(text, /apt-get install -y --no-install-recommends iproute2 iptables nftables tini/);
    // buildah 1.28 (Debian's podman 4.3) has no heredocs: scripts are files in the context.
    assert.doesNotMatch(text, /<</);
    const copies = lines.filter((l) => l.startsWith("COPY --from="));
    assert.deepEqual(
      copies.map((l) => l.split(/\s+/).slice(1, 3).join(" ")),
      [
        "--from=node /usr/local/bin/node",
        "--from=build /src/package.json",
        "--from=build /src/node_modules",
        "--from=build /src/dist",
      ],
    );
    // The runtime settings the benches measure (bench/setup.ts) are the ones the image and `npm start` ship.
    assert.ok(
      lines.includes(
        `ENTRYPOINT ${JSON.stringify(["/usr/bin/tini", "--", "node", ...SHIPPED_NODE_FLAGS, "/app/dist/main.js"])}`,
      ),
      "ENTRYPOINT runs node with bench/setup.ts's SHIPPED_NODE_FLAGS",
    );
    assert.ok(lines.includes(`ENV ${SHIPPED_ENV.join(" ")}`), "ENV sets bench/setup.ts's SHIPPED_ENV");
    const start = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")).scripts.start;
    assert.equal(
      start,
      `npm run build && env ${SHIPPED_ENV.join(" ")} node ${SHIPPED_NODE_FLAGS.join(" ")} dist/main.js`,
    );
    // The entry point is where `npm run build` puts src/main.ts.
    const tsconfig = JSON.parse(readFileSync(join(PROJECT_ROOT, "tsconfig.json"), "utf8")).compilerOptions;
    assert.deepEqual([tsconfig.rootDir, tsconfig.outDir], ["src", "dist"]);
    const ignore = readFileSync(join(PROJECT_ROOT, ".dockerignore"), "utf8").split("\n");
    assert.equal(
      ignore.find((l) => l !== "" && !l.startsWith("#")),
      "*",
      ".dockerignore starts from nothing",
    );
  });

  test("iptables wrapper picks the node's back end and re-runs the real command", async () => {
    assert.ok(lines.includes("COPY scripts/image/iptables-wrapper /usr/sbin/iptables-wrapper"));
    const script = readFileSync(join(PROJECT_ROOT, "scripts/image/iptables-wrapper"), "utf8");
    assert.equal(spawnSync("sh", ["-n", "-c", script]).status, 0);
    const dir = await tempDir("nldns-wrapper-");
    try {
      const run = (nft: string, legacy: string) => {
        for (const d of ["bin", "sbin"]) mkdirSync(join(dir, d), { recursive: true });
        const stub = (name: string, body: string) => {
          writeFileSync(join(dir, "bin", name), `#!/bin/sh\n${body}\n`);
          chmodSync(join(dir, "bin", name), 0o755);
        };
        for (const fam of ["iptables", "ip6tables"]) {
          stub(`${fam}-nft-save`, `printf '%s\\n' "${nft}"`);
          stub(`${fam}-legacy-save`, `printf '%s\\n' "${legacy}"`);
        }
        // Debian's update-alternatives re-points /usr/sbin/iptables at the chosen binary.
        stub(
          "update-alternatives",
          `echo "$*" >> "${dir}/alternatives.log"\n[ "$2" = iptables ] && ln -sf "${dir}/bin/real" "${dir}/sbin/iptables"\nexit 0`,
        );
        stub("real", 'echo "real $*"');
        writeFileSync(join(dir, "sbin", "iptables-wrapper"), script);
        chmodSync(join(dir, "sbin", "iptables-wrapper"), 0o755);
        rmSync(join(dir, "sbin", "iptables"), { force: true });
        rmSync(join(dir, "alternatives.log"), { force: true });
        symlinkSync("iptables-wrapper", join(dir, "sbin", "iptables"));
        const out = execFileSync(join(dir, "sbin", "iptables"), ["-w", "-S"], {
          env: { PATH: `${join(dir, "bin")}:/usr/bin:/bin` },
          encoding: "utf8",
        });
        assert.equal(out, "real -w -S\n");
        return readFileSync(join(dir, "alternatives.log"), "utf8").split("\n")[0];
      };
      assert.equal(
        run(":KUBE-IPTABLES-HINT - [0:0]", "-A INPUT -j ACCEPT"),
        "--set iptables /usr/sbin/iptables-nft",
      );
      assert.equal(run("", ":KUBE-KUBELET-CANARY - [0:0]"), "--set iptables /usr/sbin/iptables-legacy");
      assert.equal(run("-A X\n-A Y", "-A X"), "--set iptables /usr/sbin/iptables-nft");
      assert.equal(run("-A X", "-A X\n-A Y\n-A Z"), "--set iptables /usr/sbin/iptables-legacy");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
