// Reply-subject injection (issue 19), on a live 3-node cluster from the rendered dev nats.conf: every identity
// sends every request it may send with every stream subject as its reply, plus a direct publish of every stream
// subject, and no message may be stored where it may not publish. The control runs the same probes against the
// layout before issue 19 (every identity in the stream account) and must find what the audit found.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StringCodec, type NatsConnection, type Subscription } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "./passwordHash";
import type { UserName } from "./users";
import { LocalCluster } from "../local/localCluster";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";
import { ADMIN_TIMEOUT_MS, connectAs, connectOverWebsocket, devWithWebsocket, publishStored, TEST_PASSWORDS, websocketOnly } from "../test/natsProbe.testkit";
import { injectAll, mayPublish, probeRequests, replyTargets, sharedAccountLayout, storedCounts, type InjectionResult } from "./injection.testkit";
import { mergePermissions, NO_PERMISSIONS } from "./permissions";
import { inboxPrefixOf } from "./users";
import type { NatsConfInput } from "./natsConfig";

const sc = StringCodec();
// The dev stack with the WebSocket listener on, so the browser's identity (WebSocket only) is probed too.
const config = devWithWebsocket();
const { catalog, grants } = deploymentModel(config);
const targets = replyTargets(catalog);

/** One cluster with the catalog applied, an echoing backend (the audit's worst case) and a session per identity. */
class Probe {
  private constructor(
    readonly cluster: LocalCluster,
    private readonly stateDir: string,
    private readonly sessions: Map<UserName, NatsConnection>,
    private readonly echo: Subscription,
  ) {}

  static async start(adjustConfig?: (input: NatsConfInput) => NatsConfInput): Promise<Probe> {
    const stateDir = mkdtempSync(join(tmpdir(), "fluo-injection-"));
    const cluster = await LocalCluster.start({ config, grants, hashes: passwordHashes(TEST_PASSWORDS), stateDir, adjustConfig });
    const sessions = new Map<UserName, NatsConnection>();
    try {
      await cluster.waitForMetaLeader();
      for (const g of grants) {
        const user = g.spec.name;
        const login = { user, pass: TEST_PASSWORDS[user], inboxPrefix: inboxPrefixOf(user) };
        sessions.set(user, websocketOnly(user) ? await connectOverWebsocket(cluster.nodes[0].websocketUrl!, login) : await connectAs(cluster.servers, user));
      }
      const jsm = await sessions.get("fluo-provisioner")!.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
      for (const s of catalog.streams) await jsm.streams.add(streamApiConfig(s));
      for (const c of catalog.consumers) await jsm.consumers.add(c.stream, consumerApiConfig(c));
      // A job waiting, so a pull request has something to deliver to the reply it names.
      await publishStored(sessions.get("fluo-bff")!.jetstream(), "jobs.trace_analysis", sc.encode('{"job":"waiting"}'));
      const backend = sessions.get("fluo-backend")!;
      const echo = backend.subscribe("rpc.backend.>", { callback: (_err, msg) => msg.respond(msg.data) });
      await backend.flush();
      return new Probe(cluster, stateDir, sessions, echo);
    } catch (err) {
      for (const nc of sessions.values()) await nc.close().catch(() => undefined);
      await cluster.stop();
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    }
  }

  session(user: UserName): NatsConnection {
    return this.sessions.get(user)!;
  }

  async counts(): Promise<Map<string, number>> {
    return storedCounts(await this.session("fluo-provisioner").jetstreamManager({ timeout: ADMIN_TIMEOUT_MS }), catalog, targets);
  }

  async inject(user: UserName): Promise<InjectionResult> {
    const grant = grants.find((g) => g.spec.name === user)!;
    // An identity that may send nothing (the browser's) tries what every other identity may send: a stolen page's
    // credential must not get a single answer stored, whatever it asks.
    const requests = grant.permissions.publish.allow.length > 0 ? undefined : probeRequests(grants.map((g) => g.permissions).reduce(mergePermissions, NO_PERMISSIONS));
    return injectAll({ nc: this.session(user), grant, targets, counts: () => this.counts(), ...(requests ? { requests } : {}) });
  }

  async stop(): Promise<void> {
    this.echo.unsubscribe();
    for (const nc of this.sessions.values()) if (!nc.isClosed()) await nc.close();
    await this.cluster.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

const summary = (r: InjectionResult): string =>
  `${r.user}: ${r.sent} aimed answers (${r.answered.length} request kinds answered), ${[...r.storedOutsideRights.values()].reduce((a, b) => a + b, 0)} stored outside its rights, ${r.storedInsideRights} inside`;

describe("separate accounts: no answer is stored where its requester may not publish", () => {
  let probe: Probe;
  beforeAll(async () => {
    probe = await Probe.start();
  });
  afterAll(async () => {
    await probe?.stop();
  });

  it("aims at every subject the catalog's streams store", () => {
    expect(targets).toEqual(expect.arrayContaining(["jobs.trace_analysis", "signals.status.resolved", "signals.created", "events.user.injected", "events.system.injected"]));
    expect(targets.length).toBeGreaterThanOrEqual(10);
  });

  for (const { spec } of grants) {
    it(`${spec.name}: every request it may send, with every stream subject as reply`, async () => {
      const result = await probe.inject(spec.name);
      process.stdout.write(`  injection ${summary(result)}\n`);
      expect(result.sent).toBeGreaterThanOrEqual(60);
      expect(Object.fromEntries(result.storedOutsideRights)).toEqual({});
    });
  }

  it("the probes reach the streams: answers aimed at subjects the requester may publish are stored (BFF: jobs, workers: signals.created)", async () => {
    // The same waiting sees a forwarded answer, so an empty result above is not a probe that looked too early.
    for (const user of ["fluo-bff", "fluo-workers"] as const) expect((await probe.inject(user)).storedInsideRights, user).toBeGreaterThan(0);
  });

  it("direct publishes of every stream subject are stored exactly where the identity may publish", async () => {
    for (const { spec, permissions } of grants) {
      const nc = probe.session(spec.name);
      const before = await probe.counts();
      for (const subject of targets) nc.publish(subject, sc.encode(`{"direct":"${spec.name}"}`));
      // Publish-with-ack of an allowed subject: its ack proves the direct publishes before it were processed.
      const allowed = targets.filter((t) => mayPublish(permissions, t) && !t.startsWith("$"));
      for (const subject of allowed) await publishStored(nc.jetstream(), subject, sc.encode('{"direct":"acked"}'));
      await nc.flush();
      const after = await probe.counts();
      for (const subject of targets) {
        const added = (after.get(subject) ?? 0) - (before.get(subject) ?? 0);
        if (mayPublish(permissions, subject) && !subject.startsWith("$")) expect(added, `${spec.name} ${subject}: ${before.get(subject)} -> ${after.get(subject)}`).toBeGreaterThanOrEqual(2);
        else expect(added, `${spec.name} ${subject}`).toBe(0);
      }
    }
  });
});

describe("control: the layout before issue 19 (every identity in the stream account)", () => {
  let probe: Probe;
  beforeAll(async () => {
    probe = await Probe.start(sharedAccountLayout);
  });
  afterAll(async () => {
    await probe?.stop();
  });

  it("stores answers outside the requesters' rights, as the audit found", async () => {
    let outside = 0;
    for (const user of ["fluo-bff", "fluo-workers", "fluo-provisioner", "fluo-backup"] as const) {
      const result = await probe.inject(user);
      process.stdout.write(`  control ${summary(result)}\n`);
      const stored = [...result.storedOutsideRights.values()].reduce((a, b) => a + b, 0);
      expect(stored, `${user} stored outside its rights in one shared account`).toBeGreaterThan(0);
      outside += stored;
    }
    expect(outside).toBeGreaterThan(0);
  });
});
