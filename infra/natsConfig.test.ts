import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { clusterLogins, natsConfInput, REDACTED_PUBLIC_KEYS, renderCluster } from "./renderCluster";
import { userNkeyFromBytes } from "./nkeys";
import { userSpecs, type UserName } from "./users";
import { userGrants } from "./userGrants";
import { kubernetesTopology, TLS_FILES } from "./clusterLayout";
import { generateCertificates } from "../local/certificates";
import { createHmac } from "node:crypto";
import { bcryptSalt, hashPassword, keyedSalt, passwordHashes, verifyPassword } from "./passwordHash";
import { renderNatsConf, restartChecksum } from "./natsConfig";
import { parseStackConfig } from "./stackConfig";
import { readStackConfig, readStackFileValues } from "./stackFile";
import { natsServerBinary } from "../local/localCluster";
import { deploymentModel } from "../model";
import { natsServerTool, natsServerVersion, pinnedVersion } from "../tools/resolve";

const PASSWORDS = {
  "fluo-bff": "bff-secret",
  "fluo-backend": "backend-secret",
  "fluo-workers": "workers-secret",
  "fluo-frontend": "frontend-secret",
  "fluo-provisioner": "provisioner-secret",
  "fluo-backup": "backup-secret",
  "fluo-monitor": "monitor-secret",
  "fluo-operator": "operator-secret",
};
const SALT_KEY = "test-salt-key";
const hashes = passwordHashes(PASSWORDS, SALT_KEY);

// The same binary every live test runs: the pinned build of the image's version (or of the previous minor line).
const NATS_SERVER = natsServerBinary();

/** Runs the real `nats-server -t` (config test) on a rendered file, as the pod would read it. */
function natsServerConfigTest(conf: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "fluo-natsconf-"));
  const file = join(dir, "nats.conf");
  // The server loads TLS files at -t: give it real ones where the pod would mount the Secret.
  const certs = generateCertificates(join(dir, "tls"));
  writeFileSync(
    file,
    conf.replaceAll(TLS_FILES.certFile, certs.certFile).replaceAll(TLS_FILES.keyFile, certs.keyFile).replaceAll(TLS_FILES.caFile, certs.caFile),
  );
  const run = spawnSync(NATS_SERVER, ["-t", "-c", file], {
    encoding: "utf8",
    env: { ...process.env, SERVER_NAME: "nats-0" },
  });
  rmSync(dir, { recursive: true, force: true });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("nats.conf", () => {
  it("is checked by the pinned nats-server of this pass (tools/versions.json), not whatever is on PATH", () => {
    expect(natsServerVersion(NATS_SERVER)).toBe(pinnedVersion(natsServerTool()));
  });

  for (const stack of ["dev", "prod"]) {
    it(`the ${stack} stack's config passes the real nats-server -t`, () => {
      const { natsConf } = renderCluster(readStackConfig(stack), userGrants(), hashes);
      const result = natsServerConfigTest(natsConf);
      expect(result.output).toContain("is valid");
      expect(result.status).toBe(0);
    });
  }

  it("nats-server -t really rejects a broken config (the check above can fail)", () => {
    const { natsConf } = renderCluster(parseStackConfig("t", {}), userGrants(), hashes);
    const result = natsServerConfigTest(natsConf.replace("jetstream {", "jetstream {\n  max_file_store: [1, 2]"));
    expect(result.status).not.toBe(0);
  });

  it("routes every replica through the headless service, JetStream limits in plain bytes, data on the volume", () => {
    const { natsConf } = renderCluster(parseStackConfig("t", { replicas: 5 }), userGrants(), hashes);
    for (let i = 0; i < 5; i++) {
      expect(natsConf).toContain(`@nats-${i}.nats-headless.fluo-queue.svc.cluster.local:6222"`);
    }
    expect(natsConf).toContain("server_name: $SERVER_NAME");
    expect(natsConf).toContain('store_dir: "/data"');
    expect(natsConf).toContain(`max_file_store: ${10 * 2 ** 30}`);
    expect(natsConf).toContain(`max_memory_store: ${2 ** 30}`);
    expect(natsConf).toContain('name: "fluo-cluster"');
    expect(natsConf).toContain('system_account: "SYS"');
  });

  it("a single server runs JetStream without a cluster block", () => {
    const { natsConf } = renderCluster(parseStackConfig("t", { replicas: 1 }), userGrants(), hashes);
    expect(natsConf).not.toContain("cluster {");
  });

  it("holds passwords only as quoted bcrypt hashes", () => {
    const { natsConf } = renderCluster(parseStackConfig("t", {}), userGrants(), hashes);
    for (const password of Object.values(PASSWORDS)) expect(natsConf).not.toContain(password);
    const quoted = [...natsConf.matchAll(/password: "(\$2a\$11\$[./A-Za-z0-9]{53})"/g)].map((m) => m[1]);
    expect(quoted).toHaveLength(Object.keys(PASSWORDS).length);
    expect(verifyPassword("bff-secret", hashes["fluo-bff"])).toBe(true);
    expect(verifyPassword("wrong", hashes["fluo-bff"])).toBe(false);
  });

  it("renders byte-identical output for identical input, and a stable hash per password", () => {
    const config = parseStackConfig("t", {});
    const once = renderCluster(config, userGrants(), passwordHashes(PASSWORDS, SALT_KEY));
    const twice = renderCluster(config, userGrants(), passwordHashes(PASSWORDS, SALT_KEY));
    expect(twice.natsConf).toBe(once.natsConf);
    expect(hashPassword("fluo-bff", "pw", SALT_KEY)).toBe(hashPassword("fluo-bff", "pw", SALT_KEY));
    // Same password, different user: unrelated salts, so equal passwords are not visible as equal hashes.
    expect(keyedSalt(SALT_KEY, "fluo-bff", "pw")).not.toBe(keyedSalt(SALT_KEY, "fluo-workers", "pw"));
    expect(hashPassword("fluo-bff", "pw2", SALT_KEY)).not.toBe(hashPassword("fluo-bff", "pw", SALT_KEY));
  });

  it("the salt in a hash is no password oracle: not computable from user and password without the stack's salt key", () => {
    // The audit's oracle: the salt was HMAC-SHA256(password, user), visible in the hash, so one HMAC per guess
    // (13 us) replaced one bcrypt run (360 ms). Recompute it for the real password and compare with the hash.
    const oracle = (user: string, password: string): string =>
      bcryptSalt(createHmac("sha256", password).update(`fluo-queue/nats-user/${user}`).digest());
    for (const rendered of [hashes, passwordHashes(PASSWORDS)]) {
      for (const [user, password] of Object.entries(PASSWORDS)) {
        const hash = rendered[user as keyof typeof PASSWORDS];
        expect(verifyPassword(password, hash)).toBe(true);
        expect(hash.slice(0, 29), user).not.toBe(oracle(user, password));
      }
    }
    // Another key, other salts: the key, not the password, decides them.
    expect(keyedSalt("other-key", "fluo-bff", "bff-secret")).not.toBe(keyedSalt(SALT_KEY, "fluo-bff", "bff-secret"));
    // Without a key (local mode, renders) each call draws a fresh random key.
    expect(passwordHashes(PASSWORDS)["fluo-bff"]).not.toBe(passwordHashes(PASSWORDS)["fluo-bff"]);
  });

  it("restarts pods for restart-only settings, not for users and passwords (they hot-reload)", () => {
    const config = parseStackConfig("t", {});
    const input = (c = config, h = hashes) => natsConfInput(c, kubernetesTopology(c), userGrants(), h);
    const base = restartChecksum(input());
    const rotated = { ...hashes, "fluo-bff": hashPassword("fluo-bff", "rotated", SALT_KEY) };
    expect(renderNatsConf(input(config, rotated))).not.toBe(renderNatsConf(input()));
    expect(restartChecksum(input(config, rotated))).toBe(base);
    expect(restartChecksum(input(parseStackConfig("t", { maxFileStore: "5GiB" })))).not.toBe(base);
    expect(restartChecksum(input(parseStackConfig("t", { replicas: 5 })))).not.toBe(base);
  });

  it("route credentials: in the routes and the cluster authorization, hot-reloaded, never fingerprinted", () => {
    const config = parseStackConfig("t", {});
    const withPassword = (pw: string) => renderCluster(config, userGrants(), hashes, pw);
    const a = withPassword("first-route-secret");
    expect(a.natsConf).toContain('"nats://fluo-route:first-route-secret@nats-1.nats-headless.fluo-queue.svc.cluster.local:6222"');
    expect(a.natsConf).toMatch(/authorization \{\n {4}user: "fluo-route"\n {4}password: "first-route-secret"/);
    // A new route password reloads (no pod restart), and the checksum annotation reveals nothing about it.
    expect(withPassword("second-route-secret").restartChecksum).toBe(a.restartChecksum);
    // A single server has no routes and no route authorization.
    expect(renderCluster(parseStackConfig("t", { replicas: 1 }), userGrants(), hashes, "x").natsConf).not.toContain("authorization");
  });

  it("TLS: client and route blocks with the mounted Secret's files, only when the stack enables it; prod requires it", () => {
    const off = renderCluster(parseStackConfig("t", {}), userGrants(), hashes).natsConf;
    expect(off).not.toContain("tls {");
    const on = renderCluster(parseStackConfig("t", { tls: "cert-manager" }), userGrants(), hashes).natsConf;
    expect(on.match(/tls \{\n\s+cert_file: "\/etc\/nats-tls\/tls.crt"\n\s+key_file: "\/etc\/nats-tls\/tls.key"\n\s+ca_file: "\/etc\/nats-tls\/ca.crt"/g)).toHaveLength(2);
    expect(() => parseStackConfig("p", { environment: "prod", protect: true, tls: "off" })).toThrow(/fluo-queue:tls = "off": prod must encrypt/);
  });
});

// One NKEY per identity, from fixed bytes so the file is the same on every run.
const NKEYS = Object.fromEntries(
  userSpecs().map((u, i) => [u.name, userNkeyFromBytes(Uint8Array.from({ length: 32 }, (_, b) => (i * 32 + b) % 256))]),
) as Record<UserName, ReturnType<typeof userNkeyFromBytes>>;
const PUBLIC_KEYS = Object.fromEntries(Object.entries(NKEYS).map(([u, k]) => [u, k.publicKey])) as Record<UserName, string>;

/** The permissions block of the user entry holding the text at `at` (up to the closing brace of that entry). */
function permissionsAt(text: string, at: number): string {
  const from = text.indexOf("permissions {", at);
  const indent = /\n( *)permissions \{/.exec(text.slice(from - 40, from + 13))![1];
  return text.slice(from, text.indexOf(`\n${indent}}`, from) + indent.length + 2);
}

describe("nats.conf with authentication nkey", () => {
  const conf = (mode: "password" | "nkey" | "password+nkey", more: Parameters<typeof clusterLogins>[1] = { hashes, publicKeys: PUBLIC_KEYS }) => {
    const logins = clusterLogins(mode, more);
    return renderCluster(parseStackConfig("t", { authentication: mode }), userGrants(), logins.hashes, "route-secret", logins.extraLogins).natsConf;
  };
  const accounts = (text: string) => text.slice(text.indexOf("accounts {"));

  it("holds every identity's public key and no password hash, user name or seed; the real nats-server -t accepts it", () => {
    const text = conf("nkey");
    for (const { name } of userSpecs()) {
      expect(text).toContain(`nkey: "${PUBLIC_KEYS[name]}"`);
      expect(text).not.toContain(NKEYS[name].seed);
    }
    expect(accounts(text)).not.toMatch(/password|user:|\$2a\$/);
    expect(accounts(text).match(/nkey: /g)).toHaveLength(userSpecs().length);
    // Routes have no NKEY login: the route credentials stay in the cluster block.
    expect(text).toContain('user: "fluo-route"');
    const result = natsServerConfigTest(text);
    expect(result.status, result.output).toBe(0);
  });

  it("password+nkey lists both logins of each identity with the same permissions; password alone is unchanged", () => {
    const both = accounts(conf("password+nkey"));
    for (const { name } of userSpecs()) {
      const start = both.indexOf(`user: "${name}"`);
      const byKey = both.indexOf(`nkey: "${PUBLIC_KEYS[name]}"`);
      expect(start, name).toBeGreaterThan(0);
      expect(byKey, name).toBeGreaterThan(start);
      expect(permissionsAt(both, byKey)).toBe(permissionsAt(both, start));
      expect(permissionsAt(both, start)).toContain(`_INBOX_${name.replace(/-/g, "_").toUpperCase()}.>`);
    }
    expect(natsServerConfigTest(conf("password+nkey")).status).toBe(0);
    expect(conf("password")).not.toContain("nkey");
    expect(conf("password")).toBe(renderCluster(parseStackConfig("t", {}), userGrants(), hashes, "route-secret").natsConf);
  });

  it("a rotating identity's -next login has its own key; once the own seed is the -next one, the key is listed once", () => {
    const next = userNkeyFromBytes(new Uint8Array(32).fill(7)).publicKey;
    const rotating = accounts(conf("nkey", { hashes, publicKeys: PUBLIC_KEYS, nextPublicKeys: { "fluo-workers": next } }));
    expect(rotating).toContain(`nkey: "${PUBLIC_KEYS["fluo-workers"]}"`);
    expect(rotating).toContain(`nkey: "${next}"`);
    const switched = accounts(conf("nkey", { hashes, publicKeys: { ...PUBLIC_KEYS, "fluo-workers": next }, nextPublicKeys: { "fluo-workers": next } }));
    expect(switched.split(`nkey: "${next}"`)).toHaveLength(2);
    expect(switched).not.toContain(PUBLIC_KEYS["fluo-workers"]);
  });

  it("without the seeds (objects other than the Secret, renders) it names the missing key instead of one", () => {
    const text = conf("nkey", { hashes });
    expect(text).toContain(`nkey: "${REDACTED_PUBLIC_KEYS["fluo-bff"]}"`);
    expect(text).toContain("<public NKEY of fluo-bff: derived from its seed>");
  });
});

describe("the WebSocket listener and the browser's identity (issue 23)", () => {
  const on = { websocket: true, websocketAllowedOrigins: ["https://app.example.com"], websocketNamespaces: ["ingress-nginx"] };
  const withWebsocket = (stack: string, extra: Record<string, unknown> = {}) => parseStackConfig(stack, { ...readStackFileValues(stack), ...on, ...extra });

  it("dev (no_tls) and prod (the cluster's certificates) pass the real nats-server -t with the listener on", () => {
    for (const config of [withWebsocket("dev", { websocketNoTls: true }), withWebsocket("prod")]) {
      const { natsConf } = renderCluster(config, userGrants(), hashes);
      const result = natsServerConfigTest(natsConf);
      expect(result.output, config.stack).toContain("is valid");
      expect(result.status).toBe(0);
    }
  });

  it("renders the listener with the cluster's TLS in prod, no_tls only when the stack says so, and the allowed origins", () => {
    const prod = renderCluster(withWebsocket("prod"), userGrants(), hashes).natsConf;
    const block = prod.slice(prod.indexOf("websocket {"), prod.indexOf("jetstream {"));
    expect(block).toContain('listen: "0.0.0.0:8443"');
    expect(block).toContain(`cert_file: "${TLS_FILES.certFile}"`);
    expect(block).not.toContain("no_tls");
    expect(block).toContain('allowed_origins: [\n    "https://app.example.com"\n  ]');
    const dev = renderCluster(withWebsocket("dev", { websocketNoTls: true }), userGrants(), hashes).natsConf;
    expect(dev).toMatch(/websocket \{\n {2}listen: "0\.0\.0\.0:8443"\n {2}no_tls: true\n/);
    // Off: no block at all.
    expect(renderCluster(readStackConfig("dev"), userGrants(), hashes).natsConf).not.toContain("websocket {");
  });

  it("lets fluo-frontend log in over WebSocket only and caps its account's connections, subscriptions and payload", () => {
    const config = withWebsocket("dev", { websocketNoTls: true, websocketMaxConnections: 250 });
    // With the catalog's grants: the publishers of the signal subjects are what the frontend's imports come from.
    const conf = renderCluster(config, deploymentModel(config).grants, hashes).natsConf;
    const frontend = conf.slice(conf.indexOf("  FRONTEND {"), conf.indexOf("\n  }\n", conf.indexOf("  FRONTEND {")));
    expect(frontend).toContain('user: "fluo-frontend"');
    expect(frontend).toContain('allowed_connection_types: ["WEBSOCKET"]');
    expect(frontend).toContain("publish: { deny: [\">\"] }");
    expect(frontend).toMatch(/limits \{\n\s+max_connections: 250\n\s+max_subscriptions: 8\n\s+max_payload: 1024\n\s+\}/);
    expect(frontend).toContain('{ stream: { account: "WORKERS", subject: "signals.created" } }');
    expect(frontend).toContain('{ stream: { account: "BACKEND", subject: "signals.status.resolved" } }');
    // No other identity gets connection types or limits.
    expect(conf.match(/allowed_connection_types/g)).toHaveLength(1);
    expect(conf.match(/limits \{/g)).toHaveLength(1);
  });

  it("rolls the pods when the listener changes: nats-server refuses to reload a websocket block", () => {
    const config = withWebsocket("prod");
    const input = natsConfInput(config, kubernetesTopology(config), userGrants(), hashes);
    const origins = { ...input, websocket: { ...input.websocket!, allowedOrigins: ["https://other.example.com"] } };
    expect(restartChecksum(origins)).not.toBe(restartChecksum(input));
    const off = natsConfInput(readStackConfig("prod"), kubernetesTopology(readStackConfig("prod")), userGrants(), hashes);
    expect(restartChecksum(off)).not.toBe(restartChecksum(input));
  });
});
