// A throw-away CA and server certificate for local mode and the live TLS tests, made with the `openssl` CLI
// (Debian package `openssl`; .ci/run installs it). Nothing here is ever committed: files go to the directory the
// caller owns (the state directory, a test's temp dir). In Kubernetes cert-manager issues them instead
// (infra/kubernetesObjects.ts renderCertManagerObjects).

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
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

/** Local mode's certificates, and whether this start made them or found them in the state directory. */
export interface LocalCertificates {
  readonly files: GeneratedCertificates;
  readonly made: boolean;
  /** Why the files found were not reused (absent on a first start and on reuse). */
  readonly replaced?: string;
}

// Long enough that a developer's state directory does not expire under them; a set that would expire within a
// day is made afresh at the next start.
const LOCAL_DAYS = 365;

/**
 * The CA and server certificate in `dir`: reused when the server certificate still verifies against the CA a
 * day from now (so a restart keeps the CA that the context files and NODE_EXTRA_CA_CERTS point at), else made
 * afresh (first start, a file missing or expiring).
 */
export function localCertificates(dir: string): LocalCertificates {
  const files: GeneratedCertificates = {
    caFile: join(dir, "ca.crt"),
    caKeyFile: join(dir, "ca.key"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
  };
  const present = Object.values(files).filter((f) => existsSync(f));
  let replaced: string | undefined;
  if (present.length === 4) {
    const tomorrow = String(Math.floor(Date.now() / 1000) + 86_400);
    const check = spawnSync("openssl", ["verify", "-attime", tomorrow, "-CAfile", files.caFile, files.certFile], { encoding: "utf8" });
    if (check.error) throw new Error(`openssl could not be run (${check.error.message}): install the Debian package "openssl"`);
    if (check.status === 0) return { files, made: false };
    // openssl prints the reason ("error 10 at 0 depth lookup: certificate has expired") on stdout or stderr.
    const output = `${check.stdout}\n${check.stderr}`;
    const reason = /error \d+ at \d+ depth lookup: (.*)/.exec(output)?.[1] ?? output.trim().split("\n").pop() ?? "";
    replaced = `${files.certFile} does not verify against ${files.caFile} a day from now (${reason.trim()})`;
  } else if (present.length > 0) {
    replaced = `incomplete set in ${dir} (${present.length} of 4 files)`;
  }
  const made = generateCertificates(dir, { days: LOCAL_DAYS });
  for (const key of [made.caKeyFile, made.keyFile]) chmodSync(key, 0o600);
  return { files: made, made: true, ...(replaced ? { replaced } : {}) };
}
