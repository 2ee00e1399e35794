// A corpus of bad stack configs, one mistake each, as operators make them (issue 19: of 100 such configs, 17 were
// accepted and 11 refused over several lines). Each must be refused before anything renders, in ONE line that
// names the key, shows the value (unless it is a secret) and says what is allowed.

import { describe, expect, it } from "vitest";
import { parseStackConfig } from "./stackConfig";
import { deploymentModel } from "../model";

type Raw = Record<string, unknown>;

/** A bad config: the key the line must name, the values, and what the message must say. */
interface BadConfig {
  readonly key: string;
  readonly raw: Raw;
  readonly says?: RegExp;
  /** Secret values are never shown. */
  readonly secret?: boolean;
}

const bad = (key: string, value: unknown, says?: RegExp): BadConfig => ({ key, raw: { [key]: value }, says });
const PROD: Raw = { environment: "prod", tls: "cert-manager", protect: true };
/** A dev stack with a working WebSocket listener: each case below breaks one thing of it. */
const WS: Raw = { websocket: true, websocketNoTls: true, websocketAllowedOrigins: ["http://localhost:8080"], websocketNamespaces: ["ingress-nginx"] };
const WS_PROD: Raw = { ...PROD, websocket: true, websocketAllowedOrigins: ["https://app.example.com"], websocketNamespaces: ["ingress-nginx"] };
const SEED = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";

const CORPUS: readonly BadConfig[] = [
  ...["production", "", "Dev"].map((v) => bad("environment", v)),
  bad("kubeContext", ""),
  ...["Fluo", "-x", "a".repeat(64), "a_b"].map((v) => bad("namespace", v)),
  ...["a b", "a.b", ""].map((v) => bad("clusterName", v)),
  ...[2, 4, 0, 7, -1, 3.5, "three"].map((v) => bad("replicas", v)),
  ...["nats", "nats:latest", "NATS:2.15.3", "nats:2.15.3 ", "nats@sha256:abc"].map((v) => bad("natsImage", v)),
  bad("reloaderImage", "natsio/nats-server-config-reloader:latest"),
  bad("exporterImage", "exporter"),
  ...["1 Gig", "10XB", "-1GiB", "99999999999999999999GiB", ""].map((v) => bad("maxMemoryStore", v)),
  ...["abc", "0", "9PiB"].map((v) => bad("maxFileStore", v)),
  ...["3GiB", "12 Gi", "-1Gi", "99999999999999999999Ti", "1e3", "3Gi"].map((v) => bad("storageSize", v)),
  bad("storageClass", ""),
  ...["yes", 1].map((v) => bad("allowStorageChange", v)),
  ...["100 m", "500Mi", "-1", "1e12", "2000", "lots"].map((v) => bad("cpuRequest", v)),
  ...["1G", "0,5"].map((v) => bad("cpuLimit", v)),
  ...["2GB", "3Gi"].map((v) => bad("memoryRequest", v)),
  ...["1Gi", "2 Gi"].map((v) => bad("memoryLimit", v)),
  ...[["Bad_NS"], ["fluo-queue"], "fluo"].map((v) => bad("clientNamespaces", v)),
  bad("monitoringNamespace", "Mon"),
  ...["yes", 1].map((v) => bad("requireHostSpread", v)),
  bad("zoneSpread", "maybe"),
  bad("protect", "sure"),
  ...["5s", "29s", "2h", "1d", "30", "0", "abc"].map((v) => bad("lameDuckDuration", v)),
  bad("prometheusOperator", "no"),
  bad("grafanaNamespace", "_"),
  ...[["release"], ["a=b c"]].map((v) => bad("podMonitorLabels", v)),
  ...["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "https://", "a b", "x#y"].map((v) => bad("runbookBaseUrl", v)),
  ...["on", "true"].map((v) => bad("tls", v)),
  bad("tlsSecretName", "Bad"),
  bad("tlsCaNamespace", "cert-manager", /only read with tls "cert-manager"/),
  { key: "tlsCaNamespace", raw: { tls: "cert-manager", tlsCaNamespace: "Cert_Manager" } },
  { key: "tlsCaNamespace", raw: { tls: "cert-manager", tlsCaNamespace: "fluo-queue" }, says: /NATS namespace itself/ },
  bad("renderYamlToDirectory", ""),
  ...["http://x", "127.0.0.1:4222", "nats://a b"].map((v) => bad("natsUrl", v)),
  bad("allowDestroy", [1]),
  bad("rotatingUsers", ["fluo-nobody"]),
  bad("authentication", "jwt"),
  bad("routePasswordRotation", "perhaps"),
  ...["0s", "11m", "500ms", "20", "1h", "1d"].map((v) => bad("natsTimeout", v)),
  // Two regions: each key's own values, and the keys that mean something only together.
  ...["EU", "1eu", "eu.west", "a".repeat(32)].map((v) => bad("region", v)),
  bad("regionRole", "secondary"),
  { key: "regionRole", raw: { regionRole: "standby" }, says: /region is not/ },
  bad("peerRegion", "us", /region is not/),
  { key: "peerRegion", raw: { region: "eu", leafPassword: "p" }, says: /needs fluo-queue:peerRegion/ },
  { key: "peerRegion", raw: { region: "eu", peerRegion: "eu", leafPassword: "p" }, says: /this region itself/ },
  ...[["nats://a:7422"], ["nats-leaf://user:pw@a:7422"], ["nats-leaf://a"]].map((v) => bad("peerLeafUrls", v)),
  { key: "peerLeafUrls", raw: { region: "eu", peerRegion: "us", leafPassword: "p", regionRole: "standby" }, says: /needs fluo-queue:peerLeafUrls/ },
  { key: "peerLeafUrls", raw: { region: "eu", peerRegion: "us", leafPassword: "p", peerLeafUrls: ["nats-leaf://a:7422"] }, says: /does not connect/ },
  { key: "clusterName", raw: { region: "us", peerRegion: "eu", leafPassword: "p", regionRole: "standby", peerLeafUrls: ["nats-leaf://a:7422"] }, says: /must end with -us/ },
  { key: "clusterName", raw: { region: "eu", peerRegion: "us", leafPassword: "p", clusterName: "fluo-us" }, says: /ends with -us/ },
  ...[["Nats-Leaf.example"], ["a..b"], ["host:7422"]].map((v) => bad("leafHostnames", v)),
  bad("leafHostnames", ["leaf.example"], /region is not/),
  { key: "leafHostnames", raw: { region: "eu", peerRegion: "us", leafPassword: "p", tls: "cert-manager" }, says: /leafHostnames is empty/ },
  bad("leafServiceType", "External"),
  ...[["10.0.0.0"], ["10.0.0.0/8 "]].map((v) => bad("leafSourceCidrs", v)),
  bad("peerCaSecretName", "peer-ca", /region is not/),
  { key: "leafPassword", raw: { region: "eu", peerRegion: "us" }, says: /is not set/ },
  // Browsers: the listener's own keys, and what it needs together.
  bad("websocket", "on"),
  ...[80, 70000, "x", 8443.5].map((v) => ({ key: "websocketPort", raw: { ...WS, websocketPort: v } })),
  { key: "websocketPort", raw: { ...WS, websocketPort: 4222 }, says: /client port/ },
  ...[["app.example.com"], ["https://app.example.com/"], ["https://app.example.com/ui"], ["ws://app.example.com"]].map((v) => ({ key: "websocketAllowedOrigins", raw: { ...WS, websocketAllowedOrigins: v } })),
  { key: "websocketAllowedOrigins", raw: { ...WS, websocketAllowedOrigins: [] }, says: /any origin/ },
  { key: "websocketAllowedOrigins", raw: { ...WS_PROD, websocketAllowedOrigins: ["http://app.example.com"] }, says: /plain http/ },
  bad("websocketAllowedOrigins", ["https://app.example.com"], /websocket is false/),
  bad("websocketNoTls", true, /websocket is false/),
  { key: "websocketNoTls", raw: { ...WS_PROD, websocketNoTls: true }, says: /prod must encrypt browser connections/ },
  { key: "websocketNoTls", raw: { ...WS, websocketNoTls: false }, says: /no certificate/ },
  { key: "websocketNamespaces", raw: { ...WS, websocketNamespaces: ["Ingress_NGINX"] } },
  { key: "websocketNamespaces", raw: { ...WS, websocketNamespaces: [] }, says: /admit no one/ },
  ...[0, "many", 2_000_000].map((v) => ({ key: "websocketMaxConnections", raw: { ...WS, websocketMaxConnections: v } })),
  bad("replica", 3, /unknown key/),
  bad("natsimage", "nats:2.15.3-alpine", /unknown key/),
  // Stream overrides are read with the catalog, before anything renders.
  { key: "streamOverrides.JOBS.maxAge", raw: { streamOverrides: { JOBS: { maxAge: "1y" } } } },
  { key: "streamOverrides.JOBS.replicas", raw: { streamOverrides: { JOBS: { replicas: 7 } } } },
  { key: "streamOverrides.NOPE", raw: { streamOverrides: { NOPE: { maxAge: "1h" } } } },
  { key: "streamOverrides.JOBS.retention", raw: { streamOverrides: { JOBS: { retention: "limits" } } } },
  { key: "streamOverrides.EVENTS.maxBytes", raw: { streamOverrides: { EVENTS: { maxBytes: "lots" } } } },
  // Secrets: named, never shown.
  { key: "bffSeed", raw: { authentication: "nkey", bffSeed: "SXXX" }, secret: true },
  { key: "bcryptSaltKey", raw: { bcryptSaltKey: "abc" }, secret: true },
  { key: "bcryptSaltKey", raw: { bcryptSaltKey: Buffer.alloc(3, 1).toString("base64") }, secret: true, says: /3 bytes/ },
  { key: "provisionerSeed", raw: { provisionerSeed: SEED }, secret: true, says: /logs in with passwords only/ },
  { key: "provisionerPassword", raw: { natsUrl: "nats://127.0.0.1:4222" }, says: /is not set/ },
  { key: "provisionerSeed", raw: { natsUrl: "nats://127.0.0.1:4222", authentication: "nkey" }, says: /is not set/ },
  { key: "workersPassword", raw: { authentication: "nkey", workersPassword: "w" }, secret: true },
  { key: "kubeconfig", raw: { renderYamlToDirectory: "out", kubeconfig: "apiVersion: v1" }, secret: true },
  // Cross-key rules: prod's floor, requests above limits.
  { key: "tls", raw: { ...PROD, tls: "off" } },
  { key: "protect", raw: { ...PROD, protect: false } },
  { key: "replicas", raw: { ...PROD, replicas: 1 } },
  { key: "cpuRequest", raw: { cpuRequest: "2", cpuLimit: "1" } },
  { key: "memoryRequest", raw: { memoryRequest: "3Gi", memoryLimit: "2Gi" } },
  { key: "storageSize", raw: { storageSize: "10Gi", maxFileStore: "10GiB" } },
];

/** The refusal of `raw`, as the program and every CLI meet it (config first, then the catalog it parameterises). */
function refusal(raw: Raw): string {
  try {
    deploymentModel(parseStackConfig("corpus", raw));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

describe("bad stack configs, one mistake each", () => {
  it("the corpus holds at least 100 configs and covers every key of the schema", async () => {
    const { stackConfigSchema } = await import("./stackConfig");
    expect(CORPUS.length).toBeGreaterThanOrEqual(100);
    const covered = new Set(CORPUS.map((c) => c.key.split(".")[0]));
    for (const key of Object.keys(stackConfigSchema.shape)) expect(covered.has(key), key).toBe(true);
  });

  it.each(CORPUS.map((c, i) => [`${i + 1}: ${JSON.stringify(c.raw)}`, c] as const))("%s is refused in one line naming the key", (_name, c) => {
    const message = refusal(c.raw);
    expect(message.split("\n"), message).toHaveLength(1);
    expect(message).toMatch(/^invalid stack config: /);
    expect(message).toContain(`fluo-queue:${c.key.split(".")[0]}`);
    if (c.key.includes(".")) expect(message).toContain(c.key.split(".")[1]);
    if (c.says) expect(message).toMatch(c.says);
    const value = c.raw[c.key];
    if (c.secret && typeof value === "string" && value.length > 3) expect(message).not.toContain(value);
    if (!c.secret && value !== undefined && !c.key.includes(".") && typeof value !== "object") expect(message).toContain(JSON.stringify(value));
  });
});
