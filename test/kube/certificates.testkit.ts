// Test kit: the certificates of a throw-away Kubernetes control plane, made with the `openssl` CLI at start into a
// folder the caller owns (never committed): a CA, the API server's serving certificate, a client certificate for
// the administrator (group system:masters, which RBAC lets do anything) and the service-account key pair that the
// API server signs tokens with and kube-controller-manager mints them with.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ClusterCertificates {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  /** Private key kube-apiserver signs service-account tokens with (and kube-controller-manager mints them). */
  readonly serviceAccountKey: string;
  /** Its public half, which kube-apiserver verifies tokens with. */
  readonly serviceAccountPublicKey: string;
}

function openssl(args: readonly string[], cwd: string): void {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (run.error) throw new Error(`openssl could not be run (${run.error.message}): install the Debian package "openssl"`);
  if (run.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (exit ${run.status}): ${run.stderr.trim()}`);
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A key and a certificate signed by the CA, with the given subject and X.509 extensions. */
function signed(dir: string, name: string, subject: string, extensions: readonly string[], ca: { cert: string; key: string }): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, [...extensions, ""].join("\n"));
  openssl(["req", ...EC_KEY, "-keyout", key, "-out", csr, "-subj", subject], dir);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-out", cert, "-extfile", ext], dir);
  return { cert, key };
}

/**
 * Writes every certificate and key the control plane needs into `dir`. The serving certificate names 127.0.0.1
 * (where the tests reach it) and the in-cluster names and first service IP a pod would use, as kubeadm's does.
 */
export function clusterCertificates(dir: string, serviceIp = "10.96.0.1"): ClusterCertificates {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  openssl(["req", "-x509", ...EC_KEY, "-keyout", ca.key, "-out", ca.cert, "-days", "2", "-subj", `/CN=fluo-queue test cluster CA ${randomBytes(4).toString("hex")}`], dir);
  const names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
  const server = signed(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    [`subjectAltName=${[...names.map((n) => `DNS:${n}`), "IP:127.0.0.1", `IP:${serviceIp}`].join(",")}`, "basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth"],
    ca,
  );
  // O=system:masters: the group RBAC's cluster-admin binding names, so the tests and the controller manager
  // need no RBAC objects of their own, and nothing the program deploys is granted by this kit.
  const admin = signed(dir, "admin", "/O=system:masters/CN=fluo-queue-test-admin", ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth"], ca);
  const serviceAccountKey = join(dir, "sa.key");
  const serviceAccountPublicKey = join(dir, "sa.pub");
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", serviceAccountKey], dir);
  openssl(["pkey", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPublicKey], dir);
  return {
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPublicKey,
  };
}
