// The audited abuse paths (issue 12), replayed as the attacker would on a live 3-node cluster started from the
// rendered dev nats.conf, then the permission matrix: every user x every probed operation, allowed or refused.
//
// How "refused" is proven: nats-server answers a denied PUB/SUB with `-ERR 'Permissions Violation ...'` on the
// same connection, before it answers a later PING. So after `flush()` (PING/PONG) every refusal of what was sent
// before has arrived; a probe that has none after the flush was allowed by the server's permissions.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Events, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "./passwordHash";
import { readStackConfig } from "./stackFile";
import { userSpecs, type UserName } from "./users";
import { LocalCluster } from "../local/localCluster";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";
import { ADMIN_TIMEOUT_MS, eventually, publishStored, requestAnswered } from "../test/natsProbe.testkit";

const sc = StringCodec();
const config = readStackConfig("dev");
const { catalog, grants } = deploymentModel(config);
const users = userSpecs().map((u) => u.name);
const passwords = Object.fromEntries(users.map((u) => [u, `matrix-${u}`])) as Record<UserName, string>;
const inboxOf = (user: UserName): string => userSpecs().find((u) => u.name === user)!.inboxPrefix;

interface Session {
  readonly user: UserName;
  readonly nc: NatsConnection;
  readonly denials: Array<{ operation: string; subject: string }>;
}

let cluster: LocalCluster;
let stateDir: string;
const sessions = new Map<UserName, Session>();

async function session(user: UserName): Promise<Session> {
  const open = sessions.get(user);
  if (open) return open;
  const nc = await connect({ servers: cluster.servers, user, pass: passwords[user], inboxPrefix: inboxOf(user), reconnect: false });
  const denials: Session["denials"] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Error && s.permissionContext) denials.push({ ...s.permissionContext });
    }
  })();
  const s = { user, nc, denials };
  sessions.set(user, s);
  return s;
}

/** After a flush, whether the server refused `operation` on `subject` for this session. */
async function wasRefused(s: Session, operation: "publish" | "subscription", subject: string): Promise<boolean> {
  await s.nc.flush();
  // The status iterator hands the -ERR over asynchronously: let it run.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return s.denials.some((d) => d.operation === operation && d.subject === subject);
}

async function jsm() {
  return (await session("fluo-provisioner")).nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
}

async function streamNames(): Promise<string[]> {
  return (await (await jsm()).streams.names().next()).sort();
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-security-"));
  cluster = await LocalCluster.start({ config, grants, hashes: passwordHashes(passwords), stateDir });
  await cluster.waitForMetaLeader();
  const manager = await jsm();
  for (const s of catalog.streams) await manager.streams.add(streamApiConfig(s));
  for (const c of catalog.consumers) await manager.consumers.add(c.stream, consumerApiConfig(c));
});

afterAll(async () => {
  for (const s of sessions.values()) if (!s.nc.isClosed()) await s.nc.close();
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("abuse path 1: the backend's answers reach the requester's own inbox and nothing else", () => {
  it("a BFF request whose reply subject is another user's inbox or a subject the backend may not publish is not answered there", async () => {
    const bff = await session("fluo-bff");
    const backend = await session("fluo-backend");
    const workers = await session("fluo-workers");
    // What a forged answer would reach: a worker waiting for pulled jobs, and the job queue.
    const workersInbox = workers.nc.subscribe(`${inboxOf("fluo-workers")}.forged`);
    await workers.nc.flush();
    const aimedAt = [`${inboxOf("fluo-workers")}.forged`, "jobs.data_export", "events.user.forged"];
    // A backend that answers every request with an empty body, as the audit's did.
    const forged: string[] = [];
    const answering = backend.nc.subscribe("rpc.backend.>", {
      callback: (_err, request) => {
        if (request.reply && aimedAt.includes(request.reply)) forged.push(request.reply);
        request.respond();
      },
    });
    await backend.nc.flush();
    try {
      // The flush proves only that the backend's own server has the subscription; the BFF's may learn it over the
      // routes a moment later and drop a request sent before (CI: the forged requests never arrived). An answered
      // probe proves it arrived (requestAnswered resends the 503 until then).
      await requestAnswered(bff.nc, "rpc.backend.ping", sc.encode("{}"));
      for (const reply of aimedAt) bff.nc.publish("rpc.backend.status", sc.encode("{}"), { reply });
      await bff.nc.flush();
      expect((await eventually(async () => [...forged], (got) => got.length >= aimedAt.length)).sort()).toEqual([...aimedAt].sort());
    } finally {
      answering.unsubscribe();
    }
    for (const reply of aimedAt) expect(await wasRefused(backend, "publish", reply), reply).toBe(true);
    await workers.nc.flush();
    expect(workersInbox.getProcessed()).toBe(0);
    workersInbox.unsubscribe();
  });

  it("the audit's replies into the JetStream API ($JS.API.STREAM.DELETE/PURGE, CONSUMER.DELETE) change nothing", async () => {
    const bff = await session("fluo-bff");
    await publishStored(bff.nc.jetstream(), "jobs.trace_analysis", sc.encode('{"trace":"keep-me"}'));
    const backend = await session("fluo-backend");
    const answering = backend.nc.subscribe("rpc.backend.>", { callback: (_err, msg) => msg.respond() });
    await backend.nc.flush();
    const aimedAt = ["$JS.API.STREAM.DELETE.EVENTS", "$JS.API.STREAM.PURGE.JOBS", "$JS.API.CONSUMER.DELETE.JOBS.trace-analysis"];
    try {
      for (const reply of aimedAt) bff.nc.publish("rpc.backend.status", sc.encode("{}"), { reply });
      // nats-server 2.14+ refuses a client's `$JS.` reply subject outright ("Publish with Reply of"), so the request
      // never reaches the backend; on 2.9 it did, and the answer deleted the stream. Both layers hold here.
      await bff.nc.flush();
      await backend.nc.flush();
    } finally {
      answering.unsubscribe();
    }
    expect(await streamNames()).toEqual(catalog.streams.map((s) => s.name).sort());
    expect((await (await jsm()).streams.info("JOBS")).state.messages).toBe(1);
    expect((await (await jsm()).consumers.info("JOBS", "trace-analysis")).name).toBe("trace-analysis");
  });

  it("the BFF still gets its answers in its own inbox", async () => {
    const backend = await session("fluo-backend");
    const answering = backend.nc.subscribe("rpc.backend.>", { callback: (_err, msg) => msg.respond(sc.encode("pong")) });
    await backend.nc.flush();
    try {
      const reply = await requestAnswered((await session("fluo-bff")).nc, "rpc.backend.ping", sc.encode(""));
      expect(sc.decode(reply.data)).toBe("pong");
    } finally {
      answering.unsubscribe();
    }
  });
});

describe("abuse path 2: the system account's users cannot wipe the application account", () => {
  for (const user of ["fluo-monitor", "fluo-operator"] as const) {
    it(`${user} cannot purge account FLUO or make the meta leader step down`, async () => {
      const s = await session(user);
      for (const subject of ["$JS.API.ACCOUNT.PURGE.FLUO", "$JS.API.META.LEADER.STEPDOWN"]) {
        s.nc.publish(subject, sc.encode(""), { reply: `${inboxOf(user)}.x` });
        expect(await wasRefused(s, "publish", subject), subject).toBe(true);
      }
      expect(await streamNames()).toEqual(catalog.streams.map((x) => x.name).sort());
    });
  }

  it("fluo-monitor sees every server ($SYS.REQ.SERVER.PING.VARZ answered by all three)", async () => {
    const s = await session("fluo-monitor");
    const inbox = `${inboxOf("fluo-monitor")}.varz`;
    const sub = s.nc.subscribe(inbox, { max: 3 });
    s.nc.publish("$SYS.REQ.SERVER.PING.VARZ", sc.encode(""), { reply: inbox });
    const names: string[] = [];
    for await (const msg of sub) names.push((msg.json() as { server: { name: string } }).server.name);
    expect(names.sort()).toEqual(["nats-0", "nats-1", "nats-2"]);
  });

  it("fluo-operator may ask to remove a peer (the runbook's raft peer-remove), answered by the server, not refused", async () => {
    const s = await session("fluo-operator");
    const answer = await s.nc.request("$JS.API.SERVER.REMOVE", sc.encode('{"peer":"no-such-server"}'), { timeout: 5_000 });
    expect(sc.decode(answer.data)).toMatch(/"error"/);
    expect(await wasRefused(s, "publish", "$JS.API.SERVER.REMOVE")).toBe(false);
  });
});

describe("abuse path 4: derived publications are exactly the declared ones", () => {
  it("workers may publish signal status changes but not the backend's signals.status.resolved", async () => {
    const workers = await session("fluo-workers");
    const ack = await publishStored(workers.nc.jetstream(), "signals.status.open", sc.encode('{"signal":"s-1"}'));
    expect(ack.stream).toBe("SIGNALS");
    workers.nc.publish("signals.status.resolved", sc.encode('{"signal":"s-1"}'));
    expect(await wasRefused(workers, "publish", "signals.status.resolved")).toBe(true);
  });
});

describe("abuse path 6: a forged ack on a consumer's ack subject", () => {
  it("acks of nonexistent sequences leave the stream online and publishable", async () => {
    const workers = await session("fluo-workers");
    const bff = await session("fluo-bff");
    // Every shape the ack subject takes: v1 ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>)
    // with absurd sequences, and a truncated one.
    const forged = [
      "$JS.ACK.JOBS.trace-analysis.1.999999999.999999999.1700000000000000000.0",
      "$JS.ACK.JOBS.trace-analysis.1.18446744073709551615.18446744073709551615.0.0",
      "$JS.ACK.JOBS.trace-analysis.1.0.0.0.0",
      "$JS.ACK.JOBS.trace-analysis.x",
    ];
    for (let round = 0; round < 20; round++) for (const subject of forged) workers.nc.publish(subject, sc.encode("+ACK"));
    for (const subject of forged) expect(await wasRefused(workers, "publish", subject), subject).toBe(false);
    const manager = await jsm();
    for (let i = 0; i < 10; i++) {
      const ack = await bff.nc.jetstream().publish("jobs.rule_validation", sc.encode(`{"after-forgery":${i}}`));
      expect(ack.stream).toBe("JOBS");
    }
    const info = await manager.streams.info("JOBS");
    expect(info.cluster?.leader).toBeTruthy();
    expect((await manager.consumers.info("JOBS", "trace-analysis")).cluster?.leader).toBeTruthy();
  });
});

describe("abuse path 5: the provisioner is an administrative identity without data-plane reads", () => {
  it("cannot fetch messages, pull, direct-get, or read another user's inbox", async () => {
    const s = await session("fluo-provisioner");
    for (const subject of ["$JS.API.STREAM.MSG.GET.EVENTS", "$JS.API.DIRECT.GET.EVENTS", "$JS.API.CONSUMER.MSG.NEXT.JOBS.trace-analysis"]) {
      s.nc.publish(subject, sc.encode('{"seq":1}'), { reply: `${inboxOf("fluo-provisioner")}.x` });
      expect(await wasRefused(s, "publish", subject), subject).toBe(true);
    }
    s.nc.subscribe(`${inboxOf("fluo-workers")}.>`);
    expect(await wasRefused(s, "subscription", `${inboxOf("fluo-workers")}.>`)).toBe(true);
  });

  it("what remains (README): it can still create a push consumer delivering to its own inbox and read a stream", async () => {
    // Pinned so the README's statement stays true: subject permissions cannot see a consumer's deliver_subject.
    const s = await session("fluo-provisioner");
    const deliver = `${inboxOf("fluo-provisioner")}.residual`;
    const sub = s.nc.subscribe(deliver, { max: 1 });
    const manager = await jsm();
    await manager.consumers.add("EVENTS", { name: "residual-probe", deliver_subject: deliver, ack_policy: "none" as never, inactive_threshold: 5e9 });
    await (await session("fluo-backend")).nc.jetstream().publish("events.system.residual", sc.encode("visible"));
    let seen = "";
    for await (const msg of sub) seen = sc.decode(msg.data);
    expect(seen).not.toBe("");
    await manager.consumers.delete("EVENTS", "residual-probe");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The matrix. Each operation is a publish or a subscription; `allowed` lists the users the server must let do it,
// every other user must be refused. Destructive operations really run when allowed (the matrix runs last).

interface Operation {
  readonly name: string;
  readonly kind: "publish" | "subscription";
  readonly subject: string;
  readonly allowed: readonly UserName[];
}

const OPERATIONS: readonly Operation[] = [
  { name: "submit a job", kind: "publish", subject: "jobs.trace_analysis", allowed: ["fluo-bff"] },
  { name: "publish a job type without a consumer", kind: "publish", subject: "jobs.unknown", allowed: [] },
  { name: "publish a signal status change", kind: "publish", subject: "signals.status.open", allowed: ["fluo-workers"] },
  { name: "resolve a signal (path 4)", kind: "publish", subject: "signals.status.resolved", allowed: ["fluo-backend"] },
  { name: "publish a user event", kind: "publish", subject: "events.user.login", allowed: ["fluo-bff"] },
  { name: "call the backend", kind: "publish", subject: "rpc.backend.ping", allowed: ["fluo-bff"] },
  { name: "answer into the BFF's inbox", kind: "publish", subject: "_INBOX_FLUO_BFF.abc.1", allowed: ["fluo-backend"] },
  { name: "serve backend requests", kind: "subscription", subject: "rpc.backend.>", allowed: ["fluo-backend"] },
  { name: "pull trace-analysis jobs", kind: "publish", subject: "$JS.API.CONSUMER.MSG.NEXT.JOBS.trace-analysis", allowed: ["fluo-workers"] },
  { name: "ack a trace-analysis job", kind: "publish", subject: "$JS.ACK.JOBS.trace-analysis.1.1.1.1.0", allowed: ["fluo-workers"] },
  { name: "fetch a failed job by sequence", kind: "publish", subject: "$JS.API.STREAM.MSG.GET.JOBS", allowed: ["fluo-backend"] },
  { name: "read an event by sequence", kind: "publish", subject: "$JS.API.STREAM.MSG.GET.EVENTS", allowed: [] },
  { name: "direct-get from EVENTS", kind: "publish", subject: "$JS.API.DIRECT.GET.EVENTS", allowed: [] },
  { name: "create a consumer", kind: "publish", subject: "$JS.API.CONSUMER.CREATE.JOBS.matrix", allowed: ["fluo-provisioner"] },
  { name: "snapshot JOBS", kind: "publish", subject: "$JS.API.STREAM.SNAPSHOT.JOBS", allowed: ["fluo-backup"] },
  { name: "create a stream", kind: "publish", subject: "$JS.API.STREAM.CREATE.MATRIX", allowed: ["fluo-provisioner"] },
  { name: "purge JOBS", kind: "publish", subject: "$JS.API.STREAM.PURGE.JOBS", allowed: ["fluo-provisioner"] },
  { name: "delete a message of EVENTS", kind: "publish", subject: "$JS.API.STREAM.MSG.DELETE.EVENTS", allowed: [] },
  { name: "delete the EVENTS stream", kind: "publish", subject: "$JS.API.STREAM.DELETE.EVENTS", allowed: ["fluo-provisioner"] },
  { name: "purge the whole account (path 2)", kind: "publish", subject: "$JS.API.ACCOUNT.PURGE.FLUO", allowed: [] },
  { name: "meta leader step-down (path 2)", kind: "publish", subject: "$JS.API.META.LEADER.STEPDOWN", allowed: [] },
  { name: "remove a server from the meta group", kind: "publish", subject: "$JS.API.SERVER.REMOVE", allowed: ["fluo-operator"] },
  { name: "server reports", kind: "publish", subject: "$SYS.REQ.SERVER.PING.JSZ", allowed: ["fluo-monitor", "fluo-operator"] },
  { name: "CPU profile a server", kind: "publish", subject: "$SYS.REQ.SERVER.PING.PROFILEZ", allowed: [] },
  { name: "put a server in lame duck mode", kind: "publish", subject: "$SYS.REQ.SERVER.NABCDEF.LDM", allowed: [] },
  { name: "reload a server's config", kind: "publish", subject: "$SYS.REQ.SERVER.NABCDEF.RELOAD", allowed: [] },
  { name: "snoop raw job publishes", kind: "subscription", subject: "jobs.>", allowed: [] },
  { name: "read the workers' inbox (pulled jobs)", kind: "subscription", subject: "_INBOX_FLUO_WORKERS.>", allowed: ["fluo-workers"] },
  { name: "read the shared default inbox", kind: "subscription", subject: "_INBOX.>", allowed: [] },
  { name: "read $SYS events", kind: "subscription", subject: "$SYS.>", allowed: [] },
];

describe("permission matrix (every user x every operation)", () => {
  it("covers every user and at least 10 operations", () => {
    expect(OPERATIONS.length).toBeGreaterThanOrEqual(10);
    for (const op of OPERATIONS) for (const user of op.allowed) expect(users, `${op.name}: ${user}`).toContain(user);
  });

  for (const op of OPERATIONS) {
    describe(op.name, () => {
      it.each(users)(`%s: ${op.kind} ${op.subject}`, async (user) => {
        const s = await session(user);
        if (op.kind === "publish") s.nc.publish(op.subject, sc.encode(""), { reply: `${inboxOf(user)}.matrix` });
        else s.nc.subscribe(op.subject).unsubscribe();
        const refused = await wasRefused(s, op.kind, op.subject);
        expect(refused ? "refused" : "allowed").toBe(op.allowed.includes(user) ? "allowed" : "refused");
      });
    });
  }
});
