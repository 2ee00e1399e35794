// Abuse path 7 (issue 12): the startup probe must not depend on any one stream or consumer being current, or an
// asset that never catches up turns the 15-minute startup budget into a restart loop. Proven on the pinned server
// with a 5-node cluster: an R3 stream whose other two replicas are down can never be current on the third, yet
// the meta group (3 of 5) is fine. The restarted third server passes the startup probe's endpoint while the full
// /healthz keeps failing on that stream.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, connect, type NatsConnection } from "nats";
import { passwordHashes } from "./passwordHash";
import { userGrants } from "./userGrants";
import { parseStackConfig } from "./stackConfig";
import { userSpecs, type UserName } from "./users";
import { renderKubernetesObjects } from "./kubernetesObjects";
import { LocalCluster } from "../local/localCluster";
import { PROBE_PATHS } from "./kubernetesObjects";
import { ADMIN_TIMEOUT_MS } from "../test/natsProbe.testkit";

const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `probe-${u.name}`])) as Record<UserName, string>;
let cluster: LocalCluster;
let stateDir: string;
let nc: NatsConnection;

async function status(monitorUrl: string, path: string): Promise<{ code: number; body: string }> {
  const response = await fetch(`${monitorUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
  return { code: response.status, body: await response.text() };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-probes-"));
  cluster = await LocalCluster.start({
    config: parseStackConfig("test", { replicas: 5 }),
    grants: userGrants(),
    hashes: passwordHashes(passwords),
    stateDir,
    limits: { maxMemoryStore: 64 * 2 ** 20, maxFileStore: 256 * 2 ** 20 },
  });
  await cluster.waitForMetaLeader();
  nc = await connect({
    servers: cluster.servers,
    user: "fluo-provisioner",
    pass: passwords["fluo-provisioner"],
    inboxPrefix: userSpecs().find((u) => u.name === "fluo-provisioner")!.inboxPrefix,
  });
});

afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("startup probe semantics on the pinned server", () => {
  it("the StatefulSet's startup probe asks for the meta layer only, not for every asset", () => {
    const sts = renderKubernetesObjects({ config: parseStackConfig("t", {}), natsConf: "", restartChecksum: "x" }).statefulSet;
    const nats = sts.spec.template.spec!.containers.find((c) => c.name === "nats")!;
    expect(nats.startupProbe?.httpGet?.path).toBe("/healthz?js-meta-only=true");
    expect(nats.startupProbe?.httpGet?.path).toBe(PROBE_PATHS.startup);
  });

  it("a server restarted while one of its streams can never be current passes the startup endpoint; full /healthz does not", async () => {
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const info = await jsm.streams.add({ name: "STUCK", subjects: ["stuck.>"], num_replicas: 3 });
    await jsm.consumers.add("STUCK", { durable_name: "idle", ack_policy: AckPolicy.Explicit });
    const members = [info.cluster!.leader!, ...(info.cluster!.replicas ?? []).map((r) => r.name)];
    expect(members).toHaveLength(3);
    const index = (name: string) => cluster.nodes.findIndex((n) => n.name === name);
    const [restarted, ...others] = members.map(index);

    for (const i of others) await cluster.stopNode(i);
    await cluster.restartNode(restarted);
    const monitor = cluster.nodes[restarted].monitorUrl;

    await until("the startup endpoint to answer 200", async () => (await status(monitor, PROBE_PATHS.startup)).code === 200);
    // The stream has 1 of 3 replicas: it stays "not current" here for as long as the other two are down.
    await until("the full /healthz to name the stuck stream", async () => /STUCK/.test((await status(monitor, "/healthz")).body));
    const full = await status(monitor, "/healthz");
    expect(full.code).toBe(503);
    expect((await status(monitor, PROBE_PATHS.startup)).code).toBe(200);
    expect((await status(monitor, PROBE_PATHS.readiness)).code).toBe(200);
    expect((await status(monitor, PROBE_PATHS.liveness)).code).toBe(200);
  });
});
