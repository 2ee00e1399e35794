import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { natsConfInput, renderCluster } from "./renderCluster";
import { userGrants } from "./userGrants";
import { kubernetesTopology } from "./clusterLayout";
import { derivedSalt, hashPassword, passwordHashes, verifyPassword } from "./passwordHash";
import { renderNatsConf, restartChecksum } from "./natsConfig";
import { parseStackConfig } from "./stackConfig";
import { readStackConfig } from "./stackFile";
import { natsServerBinary } from "../local/localCluster";
import { natsServerTool, natsServerVersion, pinnedVersion } from "../tools/resolve";

const PASSWORDS = {
  "fluo-bff": "bff-secret",
  "fluo-backend": "backend-secret",
  "fluo-workers": "workers-secret",
  "fluo-provisioner": "provisioner-secret",
  "fluo-backup": "backup-secret",
  "fluo-system": "system-secret",
};
const hashes = passwordHashes(PASSWORDS);

// The same binary every live test runs: the pinned build of the image's version (or of the previous minor line).
const NATS_SERVER = natsServerBinary();

/** Runs the real `nats-server -t` (config test) on a rendered file, as the pod would read it. */
function natsServerConfigTest(conf: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "fluo-natsconf-"));
  const file = join(dir, "nats.conf");
  writeFileSync(file, conf);
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
      expect(natsConf).toContain(`"nats://nats-${i}.nats-headless.fluo-queue.svc.cluster.local:6222"`);
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
    expect(quoted).toHaveLength(6);
    expect(verifyPassword("bff-secret", hashes["fluo-bff"])).toBe(true);
    expect(verifyPassword("wrong", hashes["fluo-bff"])).toBe(false);
  });

  it("renders byte-identical output for identical input, and a stable hash per password", () => {
    const config = parseStackConfig("t", {});
    const once = renderCluster(config, userGrants(), passwordHashes(PASSWORDS));
    const twice = renderCluster(config, userGrants(), passwordHashes(PASSWORDS));
    expect(twice.natsConf).toBe(once.natsConf);
    expect(hashPassword("fluo-bff", "pw")).toBe(hashPassword("fluo-bff", "pw"));
    // Same password, different user: unrelated salts, so equal passwords are not visible as equal hashes.
    expect(derivedSalt("fluo-bff", "pw")).not.toBe(derivedSalt("fluo-workers", "pw"));
    expect(hashPassword("fluo-bff", "pw2")).not.toBe(hashPassword("fluo-bff", "pw"));
  });

  it("restarts pods for restart-only settings, not for users and passwords (they hot-reload)", () => {
    const config = parseStackConfig("t", {});
    const input = (c = config, h = hashes) => natsConfInput(c, kubernetesTopology(c), userGrants(), h);
    const base = restartChecksum(input());
    const rotated = { ...hashes, "fluo-bff": hashPassword("fluo-bff", "rotated") };
    expect(renderNatsConf(input(config, rotated))).not.toBe(renderNatsConf(input()));
    expect(restartChecksum(input(config, rotated))).toBe(base);
    expect(restartChecksum(input(parseStackConfig("t", { maxFileStore: "5GiB" })))).not.toBe(base);
    expect(restartChecksum(input(parseStackConfig("t", { replicas: 5 })))).not.toBe(base);
  });
});
