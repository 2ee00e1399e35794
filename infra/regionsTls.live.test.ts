// The link between two regions over TLS, as prod renders it (docs/regions.md): the standby's leafnode checks the
// primary's certificate against the host it dials and the CA it was given. Same CA, or the peer's CA given
// (peerCaSecretName): the link comes up. Certificates from another CA and no peer CA: refused on every attempt,
// which the standby's log names. One server per region is enough for the handshake.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { deploymentModel } from "../model";
import { passwordHashes } from "./passwordHash";
import { readStackFileValues } from "./stackFile";
import { parseStackConfig, type StackConfig } from "./stackConfig";
import { freeNodePorts, LocalCluster } from "../local/localCluster";
import { generateCertificates, type GeneratedCertificates } from "../local/certificates";
import { leafLink } from "./renderCluster";
import { eventually, TEST_PASSWORDS } from "../test/natsProbe.testkit";

const LEAF_PASSWORD = randomBytes(18).toString("base64url");
const hashes = passwordHashes(TEST_PASSWORDS);
const dev = readStackFileValues("dev");
const dirs: string[] = [];
const clusters: LocalCluster[] = [];
let primary: LocalCluster;
let primaryCa: GeneratedCertificates;
let primaryLeafPort: number;

const regionConfig = (extra: Record<string, unknown>): StackConfig => parseStackConfig("dev", { ...dev, leafPassword: LEAF_PASSWORD, ...extra });
const tempDir = (name: string): string => {
  const d = mkdtempSync(join(tmpdir(), `fluo-regions-tls-${name}-`));
  dirs.push(d);
  return d;
};

async function start(config: StackConfig, tls: GeneratedCertificates, remoteCaFile?: string): Promise<LocalCluster> {
  const model = deploymentModel(config);
  const leaf = leafLink(config, { password: LEAF_PASSWORD, denied: model.leafDenied, ...(remoteCaFile ? { remoteCaFile } : {}) })!;
  const ports = await freeNodePorts(1, true);
  const cluster = await LocalCluster.start({ config, grants: model.grants, hashes, stateDir: tempDir(config.region!), ports, leaf, tls });
  clusters.push(cluster);
  return cluster;
}

/** Leafnode connections a server reports (/varz). */
async function leafnodes(cluster: LocalCluster): Promise<number> {
  return ((await (await fetch(`${cluster.nodes[0].monitorUrl}/varz`)).json()) as { leafnodes: number }).leafnodes;
}

/** A standby dialling the primary by host name, as its peerLeafUrls would in prod. */
const standbyConfig = (): StackConfig =>
  regionConfig({ region: "us", peerRegion: "eu", regionRole: "standby", clusterName: "fluo-cluster-us", peerLeafUrls: [`nats-leaf://localhost:${primaryLeafPort}`] });

beforeAll(async () => {
  primaryCa = generateCertificates(tempDir("ca-eu"));
  primary = await start(regionConfig({ region: "eu", peerRegion: "us" }), primaryCa);
  primaryLeafPort = primary.nodes[0].ports.leaf!;
}, 120_000);

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the leafnode link over TLS", () => {
  it("the primary's leafnode listener requires TLS (its config renders the tls block)", () => {
    const conf = readFileSync(primary.nodes[0].confPath, "utf8");
    expect(conf.slice(conf.indexOf("leafnodes {"))).toMatch(/^leafnodes \{\n {2}listen: "127\.0\.0\.1:\d+"\n {2}tls \{/);
  });

  it("a standby with certificates of the same CA connects, checking the primary's name", async () => {
    const standby = await start(standbyConfig(), generateCertificates(tempDir("certs-us-same"), { ca: { certFile: primaryCa.caFile, keyFile: primaryCa.caKeyFile } }));
    expect(await eventually(() => leafnodes(standby), (n) => n === 1, 30_000)).toBe(1);
    await standby.stop();
  });

  it("a standby whose certificates come from another CA is refused without the peer's CA, and connects with it", async () => {
    const otherCa = generateCertificates(tempDir("certs-us-other"));
    const refused = await start(standbyConfig(), otherCa);
    const log = await eventually(
      async () => readFileSync(refused.nodes[0].logPath, "utf8"),
      (text) => /leafnode.*(x509|certificate|tls)/i.test(text),
      30_000,
    );
    expect(log).toMatch(/x509: certificate signed by unknown authority/);
    expect(await leafnodes(refused)).toBe(0);
    await refused.stop();

    // peerCaSecretName's job: the remote's ca_file is the peer's CA, not this region's own.
    const withPeerCa = await start(standbyConfig(), otherCa, primaryCa.caFile);
    expect(await eventually(() => leafnodes(withPeerCa), (n) => n === 1, 30_000)).toBe(1);
    await withPeerCa.stop();
  });

  it("a primary whose certificate does not name the host the standby dials is refused (why leafHostnames exist)", async () => {
    const ca = generateCertificates(tempDir("ca-eu2"));
    const named = generateCertificates(tempDir("certs-eu2"), { ca: { certFile: ca.caFile, keyFile: ca.caKeyFile }, dnsNames: ["nats-leaf.eu.example"] });
    const other = await start(regionConfig({ region: "eu", peerRegion: "us" }), named);
    const dialsLocalhost = regionConfig({
      region: "us",
      peerRegion: "eu",
      regionRole: "standby",
      clusterName: "fluo-cluster-us",
      peerLeafUrls: [`nats-leaf://localhost:${other.nodes[0].ports.leaf}`],
    });
    const standby = await start(dialsLocalhost, generateCertificates(tempDir("certs-us3"), { ca: { certFile: ca.caFile, keyFile: ca.caKeyFile } }));
    const log = await eventually(
      async () => readFileSync(standby.nodes[0].logPath, "utf8"),
      (text) => /x509/.test(text),
      30_000,
    );
    expect(log).toMatch(/x509: certificate is valid for nats-leaf\.eu\.example, not localhost/);
    expect(await leafnodes(standby)).toBe(0);
  });
});
