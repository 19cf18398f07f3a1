// A throwaway certificate authority made with the openssl CLI: a CA, server certificates for given
// names/IPs, and client certificates, all as PEM files in a temp directory removed on cleanup.

import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { tempDir } from "./tmp.ts";

const run = promisify(execFile);

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM) and its file. */
  caFile: string;
  ca: string;
  /** A leaf certificate for these subjectAltNames (DNS names and IP addresses), signed by this CA. */
  issue(label: string, names: string[], usage?: "serverAuth" | "clientAuth"): Promise<Issued>;
}

/** `openssl req` with a new P-256 key written to `keyFile` (no passphrase), then `more` arguments. */
function newKeyRequest(keyFile: string, more: string[]): Promise<unknown> {
  const args = ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile];
  return run("openssl", [...args, ...more]);
}

async function keyAndCsr(dir: string, label: string, subject: string): Promise<{ key: string; csr: string }> {
  const key = join(dir, `${label}.key`);
  const csr = join(dir, `${label}.csr`);
  await newKeyRequest(key, ["-out", csr, "-subj", subject]);
  return { key, csr };
}

export async function makeTestCa(name = "nodelocaldns test CA"): Promise<TestCa> {
  const dir = await tempDir("nldns-ca-");
  const caKey = join(dir, "ca.key");
  const caFile = join(dir, "ca.pem");
  await newKeyRequest(caKey, ["-x509", "-out", caFile, "-days", "2", "-subj", `/CN=${name}`]);
  const ca = await readFile(caFile, "utf8");
  let serial = 1;
  return {
    dir,
    caFile,
    ca,
    async issue(label, names, usage = "serverAuth") {
      const { key, csr } = await keyAndCsr(dir, label, `/CN=${names[0] ?? label}`);
      const ext = join(dir, `${label}.ext`);
      const san = names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
      await writeFile(
        ext,
        `${san ? `subjectAltName=${san}\n` : ""}basicConstraints=CA:FALSE\nextendedKeyUsage=${usage}\n`,
      );
      const certFile = join(dir, `${label}.pem`);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caFile,
        "-CAkey",
        caKey,
        "-set_serial",
        String(serial++),
        "-out",
        certFile,
        "-days",
        "2",
        "-extfile",
        ext,
      ]);
      return {
        certFile,
        keyFile: key,
        cert: await readFile(certFile, "utf8"),
        key: await readFile(key, "utf8"),
      };
    },
  };
}
