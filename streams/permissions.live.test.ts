// Permission matrix on a live 3-node cluster started from the rendered nats.conf (dev stack, grants derived
// from the catalog, known test passwords). The provisioner creates the catalog; then each user does what it
// needs (must succeed) and a set of things it must not do (must be denied by the server).
//
// How "denied" is told apart from "slow": nats-server answers a refused publish/subscribe with
// `-ERR 'Permissions Violation for Publish to "<subject>"'`; nats.js reports it as a status event with the
// operation and subject, and rejects a pending request on that subject with PERMISSIONS_VIOLATION. The test
// waits for that event naming the exact subject, so a pass is the server's refusal, not a timeout.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, connect, DeliverPolicy, Events, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "../infra/passwordHash";
import { readStackConfig } from "../infra/stackFile";
import { userSpecs, type UserName } from "../infra/users";
import { LocalCluster } from "../local/localCluster";
import { ADMIN_TIMEOUT_MS, eventually, publishStored } from "../test/natsProbe.testkit";
import {
  consumerApiConfig,
  consumerSpecFromApi,
  normalizeConsumer,
  normalizeStream,
  streamApiConfig,
  streamSpecFromApi,
} from "./fields";

const sc = StringCodec();
const config = readStackConfig("dev");
// The same model as pulumi up: catalog with the dev overrides, policy checked, grants derived from it.
const { catalog, grants } = deploymentModel(config);
const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `test-${u.name}`])) as Record<UserName, string>;
const inboxOf = (user: UserName): string => userSpecs().find((u) => u.name === user)!.inboxPrefix;

interface Denial {
  readonly operation: string;
  readonly subject: string;
}

/** A connection as one user, recording every permission violation the server reports to it. */
interface Session {
  readonly nc: NatsConnection;
  readonly denials: Denial[];
}

let cluster: LocalCluster;
let stateDir: string;
const sessions: Session[] = [];

async function connectAs(user: UserName, password = passwords[user]): Promise<Session> {
  const nc = await connect({ servers: cluster.servers, user, pass: password, inboxPrefix: inboxOf(user), reconnect: false });
  const denials: Denial[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Error && s.permissionContext) denials.push({ ...s.permissionContext });
    }
  })();
  const session = { nc, denials };
  sessions.push(session);
  return session;
}

/** Waits until the server has refused `operation` on `subject` for this session (fails after 5s). */
async function refused(session: Session, operation: "publish" | "subscription", subject: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!session.denials.some((d) => d.operation === operation && d.subject === subject)) {
    if (Date.now() > deadline) {
      throw new Error(`expected the server to refuse ${operation} on "${subject}"; refusals seen: ${JSON.stringify(session.denials)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the operation to be refused, but it succeeded");
}

let provisioner: Session;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-perm-"));
  cluster = await LocalCluster.start({
    config,
    grants,
    hashes: passwordHashes(passwords),
    stateDir,
  });
  await cluster.waitForMetaLeader();
  provisioner = await connectAs("fluo-provisioner");
});

afterAll(async () => {
  for (const s of sessions) if (!s.nc.isClosed()) await s.nc.close();
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("fluo-provisioner", () => {
  it("creates every stream and consumer of the catalog, and reads back exactly the normalized spec", async () => {
    const jsm = await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    for (const s of catalog.streams) {
      const info = await jsm.streams.add(streamApiConfig(s));
      expect(streamSpecFromApi(info.config)).toEqual(normalizeStream(s));
    }
    for (const c of catalog.consumers) {
      const info = await jsm.consumers.add(c.stream, consumerApiConfig(c));
      expect(consumerSpecFromApi(c.stream, info.config)).toEqual(normalizeConsumer(c));
    }
    expect((await jsm.streams.names().next()).sort()).toEqual(catalog.streams.map((s) => s.name).sort());
    // Creating again with the identical config adopts (the server compares after defaults).
    await jsm.streams.add(streamApiConfig(catalog.streams[0]));
    expect(provisioner.denials).toEqual([]);
  });

  it("cannot publish application messages or read them", async () => {
    provisioner.nc.publish("jobs.trace_analysis", sc.encode("not a job"));
    await refused(provisioner, "publish", "jobs.trace_analysis");
    const err = await rejection(provisioner.nc.request("$JS.API.STREAM.MSG.GET.JOBS", sc.encode('{"seq":1}'), { timeout: 5_000 }));
    expect(err.message).toMatch(/permissions violation/i);
    const jsm = await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    expect((await jsm.streams.info("JOBS")).state.messages).toBe(0);
  });
});

describe("jobs: fluo-bff submits, fluo-workers pull and ack", () => {
  it("bff publishes a job with a JetStream ack (publish + own inbox is enough)", async () => {
    const bff = await connectAs("fluo-bff");
    const ack = await publishStored(bff.nc.jetstream(), "jobs.trace_analysis", sc.encode('{"trace":"t-1"}'), { msgID: "t-1" });
    expect(ack.stream).toBe("JOBS");
    expect(ack.seq).toBeGreaterThan(0);
    expect(bff.denials).toEqual([]);
  });

  it("workers pull and ack from trace-analysis; the work queue then drops the job", async () => {
    const workers = await connectAs("fluo-workers");
    const consumer = await workers.nc.jetstream().consumers.get("JOBS", "trace-analysis");
    const msg = await consumer.next({ expires: 5_000 });
    expect(msg).not.toBeNull();
    expect(sc.decode(msg!.data)).toBe('{"trace":"t-1"}');
    expect(await msg!.ackAck()).toBe(true);
    const jsm = await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    // The R3 stream leader removes the acked job through Raft, after the ack's reply.
    expect((await eventually(() => jsm.streams.info("JOBS"), (i) => i.state.messages === 0)).state.messages).toBe(0);
    expect(workers.denials).toEqual([]);
  });

  it("bff cannot pull jobs", async () => {
    const bff = await connectAs("fluo-bff");
    const err = await rejection(bff.nc.jetstream().consumers.get("JOBS", "trace-analysis"));
    expect(err.message).toMatch(/permissions violation/i);
    bff.nc.publish("$JS.API.CONSUMER.MSG.NEXT.JOBS.trace-analysis", sc.encode('{"batch":1}'), { reply: `${inboxOf("fluo-bff")}.x` });
    await refused(bff, "publish", "$JS.API.CONSUMER.MSG.NEXT.JOBS.trace-analysis");
  });

  it("bff may publish only the job types that have a consumer", async () => {
    const bff = await connectAs("fluo-bff");
    bff.nc.publish("jobs.unknown_type", sc.encode("{}"));
    await refused(bff, "publish", "jobs.unknown_type");
  });

  it("workers cannot create a consumer (that would read any stream)", async () => {
    const workers = await connectAs("fluo-workers");
    const jsm = await workers.nc.jetstreamManager({ checkAPI: false });
    const err = await rejection(
      jsm.consumers.add("JOBS", { durable_name: "sneaky", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: "jobs.data_export" }),
    );
    expect(err.message).toMatch(/permissions violation/i);
    const names = await (await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).consumers.list("JOBS").next();
    expect(names.map((c) => c.name)).not.toContain("sneaky");
  });

  it("workers cannot read the EVENTS stream", async () => {
    const workers = await connectAs("fluo-workers");
    const err = await rejection(workers.nc.jetstream().consumers.get("EVENTS", "audit-replay"));
    expect(err.message).toMatch(/permissions violation/i);
    workers.nc.publish("$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit-replay", sc.encode('{"batch":1}'), { reply: `${inboxOf("fluo-workers")}.x` });
    await refused(workers, "publish", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit-replay");
    workers.nc.publish("$JS.API.STREAM.MSG.GET.EVENTS", sc.encode('{"seq":1}'), { reply: `${inboxOf("fluo-workers")}.x` });
    await refused(workers, "publish", "$JS.API.STREAM.MSG.GET.EVENTS");
  });
});

describe("signals: workers and backend publish, backend and BFF consume", () => {
  it("a signal reaches both durable consumers and leaves the interest stream once both acked", async () => {
    const workers = await connectAs("fluo-workers");
    const ack = await publishStored(workers.nc.jetstream(), "signals.status.open", sc.encode('{"signal":"s-1"}'));
    expect(ack.stream).toBe("SIGNALS");
    for (const [user, name] of [["fluo-backend", "backend-status"], ["fluo-bff", "bff-updates"]] as const) {
      const session = await connectAs(user);
      const msg = await (await session.nc.jetstream().consumers.get("SIGNALS", name)).next({ expires: 5_000 });
      expect(msg?.subject).toBe("signals.status.open");
      expect(await msg!.ackAck()).toBe(true);
      expect(session.denials).toEqual([]);
    }
    const jsm = await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    expect((await eventually(() => jsm.streams.info("SIGNALS"), (i) => i.state.messages === 0)).state.messages).toBe(0);
  });

  it("bff cannot read the backend's consumer, nor publish signals", async () => {
    const bff = await connectAs("fluo-bff");
    expect((await rejection(bff.nc.jetstream().consumers.get("SIGNALS", "backend-status"))).message).toMatch(/permissions violation/i);
    bff.nc.publish("signals.status.resolved", sc.encode("{}"));
    await refused(bff, "publish", "signals.status.resolved");
  });
});

describe("publishers keep to their own publications", () => {
  it("workers may not publish user events (the BFF's), nor the BFF system events", async () => {
    const workers = await connectAs("fluo-workers");
    workers.nc.publish("events.user.login", sc.encode("{}"));
    await refused(workers, "publish", "events.user.login");
    const bff = await connectAs("fluo-bff");
    bff.nc.publish("events.system.startup", sc.encode("{}"));
    await refused(bff, "publish", "events.system.startup");
  });
});

describe("events and dead letters: fluo-backend", () => {
  it("backend replays the event log (limits retention keeps it after the ack)", async () => {
    const backend = await connectAs("fluo-backend");
    await publishStored(backend.nc.jetstream(), "events.system.startup", sc.encode('{"service":"backend"}'));
    const msg = await (await backend.nc.jetstream().consumers.get("EVENTS", "audit-replay")).next({ expires: 5_000 });
    expect(msg?.subject).toBe("events.system.startup");
    expect(await msg!.ackAck()).toBe(true);
    expect((await (await provisioner.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).streams.info("EVENTS")).state.messages).toBe(1);
  });

  it("a job that exhausts max_deliver lands in DEADLETTER and the backend fetches it from JOBS", async () => {
    const bff = await connectAs("fluo-bff");
    const job = await publishStored(bff.nc.jetstream(), "jobs.rule_validation", sc.encode('{"rule":"r-1"}'));
    const workers = await connectAs("fluo-workers");
    const consumer = await workers.nc.jetstream().consumers.get("JOBS", "rule-validation");
    const maxDeliver = catalog.consumers.find((c) => c.name === "rule-validation")!.maxDeliver;
    for (let i = 0; i < maxDeliver; i++) {
      const msg = await consumer.next({ expires: 5_000 });
      expect(msg?.info.redeliveryCount).toBe(i + 1);
      msg!.nak(); // an explicit nak redelivers at once; ack_wait/backoff only apply to silent failures
    }
    // The delivery after the last one is refused by the server, which publishes the max-deliveries advisory.
    expect(await consumer.next({ expires: 1_000 })).toBeNull();

    const backend = await connectAs("fluo-backend");
    const dead = await (await backend.nc.jetstream().consumers.get("DEADLETTER", "inspect")).next({ expires: 5_000 });
    expect(dead?.subject).toBe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.rule-validation");
    const advisory = JSON.parse(sc.decode(dead!.data)) as { stream_seq: number; deliveries: number };
    expect(advisory).toMatchObject({ stream_seq: job.seq, deliveries: maxDeliver });
    dead!.ack();
    // The default jetstreamManager({ timeout: ADMIN_TIMEOUT_MS }) (it checks $JS.API.INFO first) works for the dead-letter inspector.
    const jsm = await backend.nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const failed = await jsm.streams.getMessage("JOBS", { seq: advisory.stream_seq });
    expect(sc.decode(failed.data)).toBe('{"rule":"r-1"}');
    expect(backend.denials).toEqual([]);
  });
});

describe("denied to every application user", () => {
  const appUsers: UserName[] = ["fluo-bff", "fluo-backend", "fluo-workers"];

  it.each(appUsers)("%s cannot subscribe to jobs.>, another user's inbox or $SYS", async (user) => {
    const session = await connectAs(user);
    const other = appUsers.find((u) => u !== user)!;
    for (const subject of ["jobs.>", `${inboxOf(other)}.>`, "_INBOX.>", "$SYS.>"]) {
      session.nc.subscribe(subject);
      await refused(session, "subscription", subject);
    }
  });

  it.each(appUsers)("%s cannot create, update or delete streams", async (user) => {
    const session = await connectAs(user);
    const jsm = await session.nc.jetstreamManager({ checkAPI: false });
    expect((await rejection(jsm.streams.add({ name: "ROGUE", subjects: ["rogue.>"] }))).message).toMatch(/permissions violation/i);
    expect((await rejection(jsm.streams.delete("JOBS"))).message).toMatch(/permissions violation/i);
    expect((await rejection(jsm.consumers.delete("JOBS", "trace-analysis"))).message).toMatch(/permissions violation/i);
  });

  it("a wrong password is refused", async () => {
    const err = await rejection(connect({ servers: cluster.servers, user: "fluo-workers", pass: "wrong", reconnect: false }));
    expect(err.message).toMatch(/authorization violation/i);
  });
});
