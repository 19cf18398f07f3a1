// How to reach the API server: in-cluster service account (token re-read when it rotates),
// `kubeconfig FILE [CONTEXT]`, or `endpoint URL`. Produces one GET function used by reflectors.

import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { dirname, resolve as resolvePath } from "node:path";
import { DaemonError } from "../errors/index.ts";

// Loaded with require(): see src/metrics/http.ts (an ESM import of node:http loads undici).
const http = createRequire(import.meta.url)("node:http") as typeof import("node:http");
/** node:https (and tls with it, ~4 MiB resident) only for an API server reached over TLS. */
const loadHttps = () => createRequire(import.meta.url)("node:https") as typeof import("node:https");

/** yaml is only needed for kubeconfig files; loading it lazily keeps it out of every other process. */
function loadYaml(): typeof import("yaml") {
  return createRequire(import.meta.url)("yaml") as typeof import("yaml");
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ConnectionOptions {
  /** `endpoint URL` from the Corefile. */
  endpoint?: string | null;
  /** `kubeconfig FILE [CONTEXT]`. */
  kubeconfig?: { file: string; context: string | null } | null;
  /** In-cluster paths and environment; overridable for tests. */
  tokenFile?: string;
  caFile?: string;
  env?: Record<string, string | undefined>;
}

export interface ApiConnection {
  readonly server: string;
  /** GET a path (with query string) on the API server. */
  get(path: string, signal: AbortSignal): Promise<IncomingMessage>;
  close(): void;
}

interface Credentials {
  server: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure: boolean;
  token: TokenSource | null;
  basic?: string;
}

/** A bearer token from a string or a file that is re-read whenever it changes (rotation). */
class TokenSource {
  private readonly file: string | null;
  private value: string;
  private mtime = -1;
  private size = -1;

  constructor(file: string | null, value = "") {
    this.file = file;
    this.value = value;
  }

  get(): string {
    if (this.file === null) return this.value;
    try {
      const st = statSync(this.file);
      if (st.mtimeMs !== this.mtime || st.size !== this.size) {
        this.value = readFileSync(this.file, "utf8").trim();
        this.mtime = st.mtimeMs;
        this.size = st.size;
      }
    } catch {
      // keep the last token we read; the API will say 401 if it is really gone
    }
    return this.value;
  }
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function inCluster(options: ConnectionOptions): Credentials {
  const env = options.env ?? process.env;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new DaemonError(
      "KUBE_API",
      "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are unset; give `endpoint` or `kubeconfig`",
    );
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const tokenFile = options.tokenFile ?? `${SERVICE_ACCOUNT_DIR}/token`;
  return {
    server: new URL(`https://${hostPart}:${port}`),
    ca: readIfExists(options.caFile ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`),
    insecure: false,
    token: new TokenSource(tokenFile),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: kubeconfig is loosely typed YAML
type Json = any;

function fromKubeconfig(file: string, context: string | null): Credentials {
  let doc: Json;
  try {
    doc = loadYaml().parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DaemonError("KUBE_API", `kubeconfig ${file}: cannot read: ${(error as Error).message}`);
  }
  const base = dirname(file);
  const path = (p: string) => resolvePath(base, p);
  const named = (list: Json, name: string) =>
    Array.isArray(list) ? list.find((x) => x?.name === name) : undefined;
  const contextName = context ?? doc?.["current-context"];
  const ctx = named(doc?.contexts, contextName)?.context;
  if (!ctx) throw new DaemonError("KUBE_API", `kubeconfig ${file}: no context "${contextName}"`);
  const cluster = named(doc?.clusters, ctx.cluster)?.cluster;
  if (!cluster?.server) throw new DaemonError("KUBE_API", `kubeconfig ${file}: no cluster "${ctx.cluster}"`);
  const user = named(doc?.users, ctx.user)?.user ?? {};
  const data = (inline: unknown, ref: unknown): Buffer | undefined => {
    if (typeof inline === "string" && inline !== "") return Buffer.from(inline, "base64");
    if (typeof ref === "string" && ref !== "") return readFileSync(path(ref));
    return undefined;
  };
  let token: TokenSource | null = null;
  if (typeof user.token === "string" && user.token !== "") token = new TokenSource(null, user.token);
  else if (typeof user.tokenFile === "string") token = new TokenSource(path(user.tokenFile));
  const creds: Credentials = {
    server: new URL(cluster.server),
    ca: data(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: data(user["client-certificate-data"], user["client-certificate"]),
    key: data(user["client-key-data"], user["client-key"]),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    token,
  };
  if (typeof user.username === "string" && typeof user.password === "string") {
    creds.basic = Buffer.from(`${user.username}:${user.password}`).toString("base64");
  }
  return creds;
}

function fromEndpoint(url: string, options: ConnectionOptions): Credentials {
  // An explicit endpoint still uses the service account when one is mounted (CoreDNS does the same
  // through client-go's defaults); without one it talks anonymously.
  const tokenFile = options.tokenFile ?? `${SERVICE_ACCOUNT_DIR}/token`;
  return {
    server: new URL(url),
    ca: readIfExists(options.caFile ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`),
    insecure: false,
    token: readIfExists(tokenFile) !== undefined ? new TokenSource(tokenFile) : null,
  };
}

export function resolveCredentials(options: ConnectionOptions): Credentials {
  if (options.kubeconfig) return fromKubeconfig(options.kubeconfig.file, options.kubeconfig.context);
  if (options.endpoint) return fromEndpoint(options.endpoint, options);
  return inCluster(options);
}

export function connect(options: ConnectionOptions): ApiConnection {
  const creds = resolveCredentials(options);
  const secure = creds.server.protocol === "https:";
  const https = secure ? loadHttps() : null;
  const agent = https
    ? new https.Agent({
        keepAlive: true,
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        rejectUnauthorized: !creds.insecure,
      })
    : new http.Agent({ keepAlive: true });
  const prefix = creds.server.pathname.replace(/\/$/, "");
  return {
    server: creds.server.origin,
    get(path: string, signal: AbortSignal): Promise<IncomingMessage> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { accept: "application/json", "user-agent": "nodelocaldns" };
        const token = creds.token?.get();
        if (token) headers.authorization = `Bearer ${token}`;
        else if (creds.basic) headers.authorization = `Basic ${creds.basic}`;
        const request = (https ?? http).request(
          {
            protocol: creds.server.protocol,
            hostname: creds.server.hostname.replace(/^\[|\]$/g, ""),
            port: creds.server.port || (secure ? 443 : 80),
            path: prefix + path,
            method: "GET",
            headers,
            agent,
            signal,
          },
          resolve,
        );
        request.on("error", reject);
        request.end();
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}
