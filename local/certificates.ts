// A throw-away CA and server certificate for local mode and the live TLS tests, made with the `openssl` CLI
// (Debian package `openssl`; .ci/run installs it). Nothing here is ever committed: files go to the directory the
// caller owns (the state directory, a test's temp dir). In Kubernetes cert-manager issues them instead
// (infra/kubernetesObjects.ts renderCertManagerObjects).

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TlsFiles } from "../infra/natsConfig";

export interface GeneratedCertificates extends TlsFiles {
  /** The CA's private key: only for signing more certificates (tests), never given to a server. */
  readonly caKeyFile: string;
}

export interface CertificateRequest {
  /** Subject alternative names; default: what a local client uses (localhost, 127.0.0.1). */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly days?: number;
  /** Sign with this existing CA instead of creating one (a second server of the same cluster). */
  readonly ca?: { readonly certFile: string; readonly keyFile: string };
}

function openssl(args: readonly string[], cwd: string): void {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (run.error) throw new Error(`openssl could not be run (${run.error.message}): install the Debian package "openssl"`);
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${run.status}): ${run.stderr.trim()}`);
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Writes ca.crt/ca.key (unless `request.ca` is given) and server.crt/server.key into `dir` (mode 0600 keys). */
export function generateCertificates(dir: string, request: CertificateRequest = {}): GeneratedCertificates {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = String(request.days ?? 30);
  const caFile = request.ca?.certFile ?? join(dir, "ca.crt");
  const caKeyFile = request.ca?.keyFile ?? join(dir, "ca.key");
  if (!request.ca) {
    const subject = `/CN=fluo-queue local CA ${randomBytes(4).toString("hex")}`;
    openssl(["req", "-x509", ...EC_KEY, "-keyout", caKeyFile, "-out", caFile, "-days", days, "-subj", subject], dir);
  }
  const certFile = join(dir, "server.crt");
  const keyFile = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const san = [
    ...(request.dnsNames ?? ["localhost"]).map((d) => `DNS:${d}`),
    ...(request.ipAddresses ?? ["127.0.0.1"]).map((ip) => `IP:${ip}`),
  ].join(",");
  const extensions = join(dir, "server.ext");
  // serverAuth for clients, clientAuth because a server presents the same certificate when it opens a route.
  writeFileSync(
    extensions,
    [`subjectAltName=${san}`, "basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth", ""].join("\n"),
  );
  openssl(["req", ...EC_KEY, "-keyout", keyFile, "-out", csr, "-subj", "/CN=nats"], dir);
  openssl(
    ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKeyFile, "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-out", certFile, "-days", days, "-extfile", extensions],
    dir,
  );
  return { certFile, keyFile, caFile, caKeyFile };
}
