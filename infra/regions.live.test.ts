// Two regions as the stacks render them (docs/regions.md): a primary and a standby of three servers each, each
// region its own JetStream domain, the standby's leafnode connected to the primary's listener, the streams
// created by the provider's own operations (streams/ops/apply.ts) from each region's catalog. Then the primary
// dies under a steady stream of publishes, the standby is promoted the way an operator does it (regionRole
// primary, `pulumi up`: the mirrors become streams in place, the identities get their publish rights back) and
// the platform carries on there. What each region stores, what crosses the link and what an identity in one
// region can reach in the other are checked on the way.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { StringCodec, type JetStreamManager, type NatsConnection } from "nats";
import { deploymentModel, type DeploymentModel } from "../model";
import { passwordHashes } from "./passwordHash";
import { readStackFileValues } from "./stackFile";
import { parseStackConfig, type StackConfig } from "./stackConfig";
import { freeNodePorts, LocalCluster } from "../local/localCluster";
import { leafLink } from "./renderCluster";
import { applyCatalog } from "../streams/ops/apply";
import { closeConnections, type ConnectionSettings } from "../streams/provider/client";
import { userSpecs, type UserName } from "./users";
import { ADMIN_TIMEOUT_MS, connectAs, eventually, nextPermissionError, publishStored, STANDARD_USERS, TEST_PASSWORDS } from "../test/natsProbe.testkit";

const sc = StringCodec();
const LEAF_PASSWORD = randomBytes(18).toString("base64url");
const hashes = passwordHashes(TEST_PASSWORDS);
const dev = readStackFileValues("dev");
/** The standby's cluster name: it must differ from the primary's (stackConfig: the leafnode refuses one name). */
const STANDBY_CLUSTER = "fluo-cluster-us";

function regionConfig(region: string, peerRegion: string, extra: Record<string, unknown>): StackConfig {
  return parseStackConfig("dev", { ...dev, region, peerRegion, leafPassword: LEAF_PASSWORD, ...extra });
}

interface Region {
  readonly config: StackConfig;
  readonly model: DeploymentModel;
  readonly cluster: LocalCluster;
}

let primary: Region;
let standby: Region;
const stateDirs: string[] = [];
/** Every cluster a test started, stopped in afterAll whatever happened. */
const clusters: LocalCluster[] = [];

function provisioner(cluster: LocalCluster): ConnectionSettings {
  const spec = userSpecs().find((s) => s.name === "fluo-provisioner")!;
  return { servers: cluster.servers, user: spec.name, inboxPrefix: spec.inboxPrefix, password: TEST_PASSWORDS[spec.name] };
}

async function startRegion(config: StackConfig, ports: Awaited<ReturnType<typeof freeNodePorts>>): Promise<Region> {
  const model = deploymentModel(config);
  const stateDir = mkdtempSync(join(tmpdir(), `fluo-region-${config.region}-`));
  stateDirs.push(stateDir);
  const leaf = leafLink(config, { password: LEAF_PASSWORD, denied: model.leafDenied })!;
  const cluster = await LocalCluster.start({ config, grants: model.grants, hashes, stateDir, ports, leaf });
  clusters.push(cluster);
  await cluster.waitForMetaLeader();
  return { config, model, cluster };
}

async function withSession<T>(region: Region, user: UserName, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectAs(region.cluster.servers, user);
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

const asProvisioner = <T>(region: Region, use: (jsm: JetStreamManager) => Promise<T>): Promise<T> =>
  withSession(region, "fluo-provisioner", async (nc) => use(await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })));

async function streamState(region: Region, stream: string): Promise<{ messages: number; lastSeq: number; mirrorLag?: number; mirrorActiveMs?: number }> {
  return asProvisioner(region, async (jsm) => {
    const info = await jsm.streams.info(stream);
    return {
      messages: info.state.messages,
      lastSeq: info.state.last_seq,
      ...(info.mirror ? { mirrorLag: info.mirror.lag, mirrorActiveMs: info.mirror.active / 1e6 } : {}),
    };
  });
}

/** The `leafnodes` count of a server's /varz, the exporter's nats_varz_leafnodes. */
async function varzLeafnodes(monitorUrl: string): Promise<number> {
  return ((await (await fetch(`${monitorUrl}/varz`)).json()) as { leafnodes: number }).leafnodes;
}

beforeAll(async () => {
  const primaryPorts = await freeNodePorts(3, true);
  primary = await startRegion(regionConfig("eu", "us", {}), primaryPorts);
  const standbyConfig = regionConfig("us", "eu", { regionRole: "standby", clusterName: STANDBY_CLUSTER, peerLeafUrls: primaryPorts.map((p) => `nats-leaf://127.0.0.1:${p.leaf}`) });
  standby = await startRegion(standbyConfig, await freeNodePorts(3, true));
  for (const region of [primary, standby]) {
    const report = await applyCatalog(provisioner(region.cluster), region.model.catalog, { allowDestroy: [] });
    expect(report.counts.create, `${region.config.region}: ${JSON.stringify(report.actions)}`).toBe(region.model.catalog.streams.length + region.model.catalog.consumers.length);
    await region.cluster.waitForStreamLeaders();
  }
  await closeConnections();
}, 180_000);

afterAll(async () => {
  await closeConnections();
  await Promise.all(clusters.map((c) => c.stop()));
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

describe("two regions, primary and standby", () => {
  it("each region is a JetStream domain of its own, and the standby's leafnode reaches the primary", async () => {
    for (const region of [primary, standby]) {
      const domain = await asProvisioner(region, async (jsm) => (await jsm.getAccountInfo()).domain);
      expect(domain, region.config.region).toBe(region.config.region);
    }
    // Every standby server holds one leafnode connection to one of the primary's servers.
    const leafs = await eventually(
      async () => {
        let n = 0;
        for (const node of primary.cluster.nodes) n += ((await (await fetch(`${node.monitorUrl}/leafz`)).json()) as { leafnodes: number }).leafnodes;
        return n;
      },
      (n) => n >= standby.cluster.nodes.length,
      30_000,
    );
    expect(leafs).toBe(standby.cluster.nodes.length);
    // What the exporter reports as nats_varz_leafnodes (NatsRegionLinkDown): a standby server counts its own
    // solicited connection, a primary server the ones it accepted.
    expect(await Promise.all(standby.cluster.nodes.map((n) => varzLeafnodes(n.monitorUrl)))).toEqual(standby.cluster.nodes.map(() => 1));
    expect((await Promise.all(primary.cluster.nodes.map((n) => varzLeafnodes(n.monitorUrl)))).reduce((a, b) => a + b, 0)).toBe(standby.cluster.nodes.length);
  });

  it("the standby keeps EVENTS and DEADLETTER as read-only mirrors of the primary's, JOBS and SIGNALS as its own", async () => {
    const streams = await asProvisioner(standby, async (jsm) => {
      const out: Record<string, { subjects: string[]; mirror?: string }> = {};
      for (const s of standby.model.catalog.streams) {
        const c = (await jsm.streams.info(s.name)).config;
        out[s.name] = { subjects: c.subjects ?? [], ...(c.mirror ? { mirror: `${c.mirror.name}@${c.mirror.external?.api}` } : {}) };
      }
      return out;
    });
    expect(streams).toEqual({
      JOBS: { subjects: ["jobs.>"] },
      SIGNALS: { subjects: ["signals.>"] },
      EVENTS: { subjects: [], mirror: "EVENTS@$JS.eu.API" },
      DEADLETTER: { subjects: [], mirror: "DEADLETTER@$JS.eu.API" },
    });
  });

  it("events published in the primary reach the standby's mirror; jobs and signals stay in the region that took them", async () => {
    await withSession(primary, "fluo-bff", async (nc) => {
      for (let i = 0; i < 200; i++) await publishStored(nc.jetstream(), "events.user.login", sc.encode(`{"event":${i}}`));
      for (let i = 0; i < 20; i++) await publishStored(nc.jetstream(), "jobs.rule_validation", sc.encode(`{"job":${i}}`));
    });
    await withSession(standby, "fluo-bff", async (nc) => {
      for (let i = 0; i < 5; i++) await publishStored(nc.jetstream(), "jobs.rule_validation", sc.encode(`{"standby-job":${i}}`));
    });
    // A job that exhausts its deliveries in the primary (alone on its consumer's subject, so the pull after its
    // last delivery finds nothing): its advisory is stored in the primary's DEADLETTER.
    await withSession(primary, "fluo-bff", (nc) => publishStored(nc.jetstream(), "jobs.trace_analysis", sc.encode('{"job":"dead"}')));
    const maxDeliver = primary.model.catalog.consumers.find((c) => c.name === "trace-analysis")!.maxDeliver;
    await withSession(primary, "fluo-workers", async (nc) => {
      const consumer = await nc.jetstream().consumers.get("JOBS", "trace-analysis");
      for (let i = 0; i < maxDeliver; i++) (await consumer.next({ expires: 5_000 }))!.nak();
      // The pull after the last delivery is what the server refuses, publishing the max-deliveries advisory.
      expect(await consumer.next({ expires: 1_000 })).toBeNull();
    });
    const deadInPrimary = await eventually(() => streamState(primary, "DEADLETTER"), (s) => s.messages >= 1);
    expect(deadInPrimary.messages).toBe(1);

    const mirrored = await eventually(() => streamState(standby, "EVENTS"), (s) => s.messages >= 200, 60_000);
    expect(mirrored.messages).toBe(200);
    expect(mirrored.mirrorLag).toBe(0);
    const deadMirrored = await eventually(() => streamState(standby, "DEADLETTER"), (s) => s.messages >= 1, 60_000);
    expect({ messages: deadMirrored.messages, lag: deadMirrored.mirrorLag }).toEqual({ messages: 1, lag: 0 });
    // The work queues are regional: the primary's 21 jobs (one of them dead) stay there, the standby's 5 here.
    expect((await streamState(primary, "JOBS")).messages).toBe(21);
    expect((await streamState(standby, "JOBS")).messages).toBe(5);
  });

  it("nothing publishes into a mirror, and no identity in the standby reaches the primary's JetStream API", async () => {
    await withSession(standby, "fluo-backend", async (nc) => {
      const denied = nextPermissionError(nc);
      nc.publish("events.user.login", sc.encode("{}"));
      expect(await denied).toMatch(/publish.*events\.user\.login/i);
    });
    // Every identity, in both regions, asking the other region's JetStream API (the domain prefix routes a
    // request over the leafnode): refused by its own server's permissions before it leaves.
    for (const [from, other] of [[standby, "eu"], [primary, "us"]] as const) {
      // The browser's identity logs in over WebSocket only (no listener here): the client port refuses it anyway.
      for (const user of STANDARD_USERS.filter((u) => !["fluo-monitor", "fluo-operator"].includes(u))) {
        await withSession(from, user, async (nc) => {
          const subject = `$JS.${other}.API.INFO`;
          const denied = nextPermissionError(nc);
          const answer = nc.request(subject, sc.encode(""), { timeout: 3_000 }).then(
            () => "answered",
            (err: Error) => err.message,
          );
          const [permission, outcome] = await Promise.all([denied, answer]);
          expect(outcome, `${from.config.region} ${user}`).not.toBe("answered");
          expect(permission, `${from.config.region} ${user}`).toMatch(new RegExp(`publish.*${subject.replace(/[.$]/g, "\\$&")}`, "i"));
        });
      }
    }
  });

  it("the primary dies under steady publishes; the promoted standby keeps every message it had and takes the writes", async () => {
    // A steady writer in the primary until its servers are gone: the acked sequence is what clients were told.
    let acked = 0;
    let stop = false;
    let writerDone = false;
    const writeStart = Date.now();
    const writer = withSession(primary, "fluo-backend", async (nc) => {
      const js = nc.jetstream();
      while (!stop) {
        try {
          acked = (await js.publish("events.system.tick", sc.encode(`{"tick":${acked}}`), { timeout: 2_000 })).seq;
        } catch {
          return;
        }
      }
    })
      .catch(() => undefined)
      .finally(() => (writerDone = true));
    // Replication lag under that load: how long a sequence the primary acknowledged takes to be in the mirror
    // (an upper bound: it includes one stream info round trip on a held connection). Sampled by progress.
    const lagsMs = await asProvisioner(standby, async (jsm) => {
      const out: number[] = [];
      let previous = 0;
      while (out.length < 50) {
        // Each sample waits for a sequence the writer has newly acknowledged (its first one too).
        while (acked <= previous && !writerDone) await new Promise((r) => setTimeout(r, 1));
        if (writerDone) throw new Error(`the writer stopped after seq ${acked}`);
        const target = (previous = acked);
        const seen = performance.now();
        const deadline = seen + 30_000;
        while ((await jsm.streams.info("EVENTS")).state.last_seq < target && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        out.push(performance.now() - seen);
      }
      return out.sort((a, b) => a - b);
    });
    const rate = acked / ((Date.now() - writeStart) / 1000);
    const ms = (v: number): string => `${v.toFixed(1)} ms`;
    console.log(`replication lag under ${rate.toFixed(0)} acked publishes/s: p50 ${ms(lagsMs[25])}, p90 ${ms(lagsMs[45])}, max ${ms(lagsMs[49])} (50 samples)`);
    expect(lagsMs[49]).toBeLessThan(10_000);

    await Promise.all(primary.cluster.nodes.map((_, i) => primary.cluster.killNode(i)));
    stop = true;
    await writer;
    // The link is gone on every standby server: NatsRegionLinkDown's expression (sum < 1) holds.
    const linkCount = await eventually(async () => (await Promise.all(standby.cluster.nodes.map((n) => varzLeafnodes(n.monitorUrl)))).reduce((a, b) => a + b, 0), (n) => n === 0);
    expect(linkCount).toBe(0);
    const atFailure = await streamState(standby, "EVENTS");
    // RPO: messages the primary acknowledged that the standby never got, the mirror's lag at the moment of the
    // failure. Bounded by what the writer acknowledges in two seconds (the measured lag is far below that).
    const lost = acked - atFailure.lastSeq;
    console.log(`failover: primary acked seq ${acked}, standby mirror holds ${atFailure.messages} (last seq ${atFailure.lastSeq}): RPO ${lost} acknowledged messages (${((lost / rate) * 1000).toFixed(0)} ms of writes)`);
    expect(atFailure.messages).toBe(atFailure.lastSeq); // a prefix of the primary's stream, no gaps
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(Math.ceil(rate * 2));

    // The operator's promotion: regionRole primary (the remote goes), then `pulumi up`, here the same operations.
    const promotedConfig = regionConfig("us", "eu", { clusterName: STANDBY_CLUSTER });
    const promoted = deploymentModel(promotedConfig);
    const started = Date.now();
    const report = await applyCatalog(provisioner(standby.cluster), promoted.catalog, { allowDestroy: [] });
    const tookMs = Date.now() - started;
    const changed = report.actions.filter((a) => a.action !== "unchanged");
    expect(changed.map((a) => `${a.id} ${a.action}`).sort()).toEqual(["DEADLETTER update", "EVENTS update"]);
    await standby.cluster.reloadRegion({ grants: promoted.grants, leaf: leafLink(promotedConfig, { password: LEAF_PASSWORD, denied: promoted.leafDenied })! });
    // The reload dropped the remote (nats-server reloads leafnode remotes): the promoted region will not dial
    // the old primary when it comes back.
    for (const node of standby.cluster.nodes) {
      const varz = (await (await fetch(`${node.monitorUrl}/varz`)).json()) as { leaf?: { remotes?: unknown[] } };
      expect(varz.leaf?.remotes ?? [], node.name).toEqual([]);
    }
    const after = await streamState(standby, "EVENTS");
    console.log(`promotion: ${tookMs} ms for ${report.actions.length} resources; EVENTS keeps ${after.messages} messages`);
    expect(after).toEqual({ messages: atFailure.messages, lastSeq: atFailure.lastSeq });

    // Producers carry on in the promoted region, the sequence continuing from the mirror's.
    const ack = await withSession(standby, "fluo-bff", (nc) => publishStored(nc.jetstream(), "events.user.login", sc.encode('{"after":"failover"}')));
    expect(ack).toMatchObject({ stream: "EVENTS", seq: atFailure.lastSeq + 1, domain: "us" });
    const config = await asProvisioner(standby, async (jsm) => (await jsm.streams.info("EVENTS")).config);
    expect({ subjects: config.subjects, mirror: config.mirror ?? null }).toEqual({ subjects: ["events.>"], mirror: null });
    // And consumers: the backend replays the whole event log (the primary's, then its own), a worker takes the
    // region's own jobs, and the dead letter replicated from the primary is there to inspect.
    const replayed = await withSession(standby, "fluo-backend", async (nc) => {
      const consumer = await nc.jetstream().consumers.get("EVENTS", "audit-replay");
      let n = 0;
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          m.ack();
          got++;
        }
        if (got === 0) return n;
        n += got;
      }
    });
    expect(replayed).toBe(atFailure.messages + 1);
    const jobs = await withSession(standby, "fluo-workers", async (nc) => {
      const consumer = await nc.jetstream().consumers.get("JOBS", "rule-validation");
      let n = 0;
      for (let m = await consumer.next({ expires: 2_000 }); m; m = await consumer.next({ expires: 2_000 })) {
        expect(await m.ackAck()).toBe(true);
        n++;
      }
      return n;
    });
    expect(jobs).toBe(5);
    expect((await streamState(standby, "DEADLETTER")).messages).toBe(1);
    await closeConnections();
  }, 180_000);

  it("failback: the old primary's streams are not demoted without the opt-in; rebuilt as a standby, it mirrors the new primary", async () => {
    // The lost region comes back with its disks: as a demotion preview would, planning its standby catalog on it
    // refuses, since a stream cannot become a mirror in place and replacing it drops what it holds.
    await Promise.all(primary.cluster.nodes.map((_, i) => primary.cluster.startNode(i)));
    await primary.cluster.waitForMetaLeader();
    await primary.cluster.waitForStreamLeaders();
    const demoted = deploymentModel(regionConfig("eu", "us", { regionRole: "standby", clusterName: "fluo-cluster-eu", peerLeafUrls: standby.cluster.nodes.map((n) => `nats-leaf://127.0.0.1:${n.ports.leaf}`) }));
    const refused = await applyCatalog(provisioner(primary.cluster), demoted.catalog, { allowDestroy: [] }).then(
      () => "applied",
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/EVENTS/);
    expect(refused).toMatch(/allowDestroy/);
    const kept = await streamState(primary, "EVENTS");
    expect(kept.messages).toBeGreaterThan(200);
    await closeConnections();

    // The opted-in way back (docs/regions.md "Failback"): the old region rebuilt empty as the new primary's
    // standby. Its mirrors fetch everything the promoted region holds.
    await primary.cluster.stop();
    const newPrimaryEvents = await streamState(standby, "EVENTS");
    const rebuiltConfig = regionConfig("eu", "us", { regionRole: "standby", clusterName: "fluo-cluster-eu", peerLeafUrls: standby.cluster.nodes.map((n) => `nats-leaf://127.0.0.1:${n.ports.leaf}`) });
    const rebuilt = await startRegion(rebuiltConfig, await freeNodePorts(3, true));
    const report = await applyCatalog(provisioner(rebuilt.cluster), rebuilt.model.catalog, { allowDestroy: [] });
    expect(report.counts.create).toBe(rebuilt.model.catalog.streams.length + rebuilt.model.catalog.consumers.length);
    const caughtUp = await eventually(() => streamState(rebuilt, "EVENTS"), (st) => st.messages >= newPrimaryEvents.messages, 60_000);
    expect({ messages: caughtUp.messages, lastSeq: caughtUp.lastSeq, lag: caughtUp.mirrorLag }).toEqual({ messages: newPrimaryEvents.messages, lastSeq: newPrimaryEvents.lastSeq, lag: 0 });
    expect((await eventually(() => streamState(rebuilt, "DEADLETTER"), (st) => st.messages >= 1)).messages).toBe(1);
    await closeConnections();
    await rebuilt.cluster.stop();
  }, 180_000);
});
