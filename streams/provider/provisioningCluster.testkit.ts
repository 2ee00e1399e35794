// A local 3-node cluster (local/localCluster.ts, the rendered nats.conf) with known passwords: the provider is
// proven against the least-privilege fluo-provisioner it runs as in production. Only the test publisher grant is
// added to what the stack renders.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { passwordHashes } from "../../infra/passwordHash";
import { userGrants } from "../../infra/userGrants";
import { grant } from "../../infra/permissions";
import { parseStackConfig } from "../../infra/stackConfig";
import { userSpecs, type UserName } from "../../infra/users";
import { LocalCluster } from "../../local/localCluster";
import type { ConnectionSettings } from "./client";

export interface ProvisioningCluster {
  readonly cluster: LocalCluster;
  /** fluo-provisioner's settings: what the provider gets from configure(). */
  readonly provisioner: ConnectionSettings;
  /** fluo-bff, allowed to publish on `test.>` here so tests can put messages in streams. */
  readonly publisher: ConnectionSettings;
  readonly passwords: Readonly<Record<UserName, string>>;
  stop(): Promise<void>;
}

/** Test subjects the publisher may use; test streams must capture subjects below it. */
export const TEST_SUBJECTS = "test.>";
/** One advisory per JetStream API request of the account (nats-server jetstream_api.go, JSAPIAudit). */
export const API_ADVISORIES = "$JS.EVENT.ADVISORY.API";

export async function startProvisioningCluster(replicas: 1 | 3 = 3): Promise<ProvisioningCluster> {
  const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `pw-${u.name}-${Math.random().toString(36).slice(2)}`])) as Record<UserName, string>;
  const stateDir = mkdtempSync(join(tmpdir(), "fluo-streams-"));
  const config = parseStackConfig("test", { replicas });
  // The publisher may also watch JetStream's API audit advisories: tests prove which API calls a provider sent.
  const grants = userGrants(new Map([["fluo-bff", grant({ publish: [TEST_SUBJECTS], subscribe: [API_ADVISORIES] })]]));
  const cluster = await LocalCluster.start({
    config,
    grants,
    hashes: passwordHashes(passwords),
    stateDir,
    // File store large enough for the real catalog's reservations (max_bytes is reserved up front, not written).
    limits: { maxMemoryStore: 256 * 2 ** 20, maxFileStore: 16 * 2 ** 30 },
  });
  try {
    await cluster.waitForMetaLeader();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const settings = (name: UserName): ConnectionSettings => ({
    servers: cluster.servers,
    user: name,
    password: passwords[name],
    inboxPrefix: userSpecs().find((u) => u.name === name)!.inboxPrefix,
  });
  return {
    cluster,
    provisioner: settings("fluo-provisioner"),
    publisher: settings("fluo-bff"),
    passwords,
    async stop() {
      await cluster.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
