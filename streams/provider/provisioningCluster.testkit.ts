// A local 3-node cluster (local/localCluster.ts, the rendered nats.conf) with known passwords: the provider is
// proven against the least-privilege fluo-provisioner it runs as in production. Only the test publisher grant is
// added to what the stack renders.

import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "nats";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { passwordHashes } from "../../infra/passwordHash";
import { userGrants } from "../../infra/userGrants";
import { grant } from "../../infra/permissions";
import { parseStackConfig } from "../../infra/stackConfig";
import { IDENTITY_ACCOUNTS, STREAM_ACCOUNT, userSpecs, type UserName } from "../../infra/users";
import type { NatsConfInput } from "../../infra/natsConfig";
import { LocalCluster } from "../../local/localCluster";
import type { PasswordConnection } from "./client";
import { ADMIN_TIMEOUT_MS } from "../../test/natsProbe.testkit";

export interface ProvisioningCluster {
  readonly cluster: LocalCluster;
  /** fluo-provisioner's settings: what the provider gets from configure(). */
  readonly provisioner: PasswordConnection;
  /** fluo-bff, allowed to publish on `test.>` here so tests can put messages in streams. */
  readonly publisher: PasswordConnection;
  readonly passwords: Readonly<Record<UserName, string>>;
  stop(): Promise<void>;
}

/** Test subjects the publisher may use; test streams must capture subjects below it. */
export const TEST_SUBJECTS = "test.>";
/** One advisory per JetStream API request of the account (nats-server jetstream_api.go, JSAPIAudit). */
export const API_ADVISORIES = "$JS.EVENT.ADVISORY.API";

/**
 * A meta leader is not yet a cluster that places R3 streams: on a loaded machine a peer can still count as
 * offline ("no suitable peers for placement, peer offline", 10005) for a while. Waits until an R3 stream can be
 * created, then deletes it, so tests start from a cluster that accepts what they declare.
 */
async function waitForPlacement(provisioner: PasswordConnection, timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: [...provisioner.servers], user: provisioner.user, pass: provisioner.password, inboxPrefix: provisioner.inboxPrefix });
  try {
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await jsm.streams.add({ name: "TESTKIT_READY", subjects: ["testkit.ready"], num_replicas: 3, max_bytes: 1024 });
        await jsm.streams.delete("TESTKIT_READY");
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the test cluster did not place an R3 stream within ${timeoutMs} ms: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

/**
 * The advisories are published in the stream account, and a subscribe right reaches only the subscriber's own
 * account: the test publisher's account imports them as a stream (test clusters only; nothing renders this).
 */
function withAdvisoriesFor(account: string): (input: NatsConfInput) => NatsConfInput {
  return (input) => ({
    ...input,
    accounts: input.accounts.map((a) => {
      if (a.name === STREAM_ACCOUNT) return { ...a, exports: [...(a.exports ?? []), { kind: "stream" as const, subject: API_ADVISORIES, importers: [account] }] };
      if (a.name === account) return { ...a, imports: [...(a.imports ?? []), { kind: "stream" as const, account: STREAM_ACCOUNT, subject: API_ADVISORIES }] };
      return a;
    }),
  });
}

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
    adjustConfig: withAdvisoriesFor(IDENTITY_ACCOUNTS["fluo-bff"]),
  });
  const settings = (name: UserName): PasswordConnection => ({
    servers: cluster.servers,
    user: name,
    password: passwords[name],
    inboxPrefix: userSpecs().find((u) => u.name === name)!.inboxPrefix,
  });
  try {
    await cluster.waitForMetaLeader();
    if (replicas === 3) await waitForPlacement(settings("fluo-provisioner"));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
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
