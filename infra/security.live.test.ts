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
import { userSpecs, type UserName } from "./users";
import { LocalCluster } from "../local/localCluster";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";
import { ADMIN_TIMEOUT_MS, connectOverWebsocket, devWithWebsocket, eventually, publishStored, requestAnswered, websocketOnly } from "../test/natsProbe.testkit";

const sc = StringCodec();
// The dev stack with the WebSocket listener on, so the browser's identity (fluo-frontend, WebSocket only) has its rows.
const config = devWithWebsocket();
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
  const login = { user, pass: passwords[user], inboxPrefix: inboxOf(user) };
  const nc = websocketOnly(user)
    ? await connectOverWebsocket(cluster.nodes[0].websocketUrl!, login)
    : await connect({ servers: cluster.servers, ...login, reconnect: false });
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

describe("abuse path 1: the backend's answers go back into the requester's own account and nowhere else", () => {
  it("a BFF request whose reply subject is another user's inbox or a stream subject the BFF may not publish: the backend answers, nothing arrives there", async () => {
    const bff = await session("fluo-bff");
    const backend = await session("fluo-backend");
    const workers = await session("fluo-workers");
    // What a forged answer would reach: a worker waiting for pulled jobs, and two streams the BFF may not publish to.
    const workersInbox = workers.nc.subscribe(`${inboxOf("fluo-workers")}.forged`);
    await workers.nc.flush();
    const manager = await jsm();
    const stored = async () => (await manager.streams.info("SIGNALS")).state.messages + (await manager.streams.info("EVENTS")).state.messages;
    const storedBefore = await stored();
    const aimedAt = [`${inboxOf("fluo-workers")}.forged`, "signals.status.resolved", "events.system.forged"];
    // A backend that echoes every request, the audit's worst case: the BFF's own text would be the forged message.
    const replies: string[] = [];
    const answering = backend.nc.subscribe("rpc.backend.>", {
      callback: (_err, request) => {
        if (request.reply) replies.push(request.reply);
        request.respond(request.data);
      },
    });
    await backend.nc.flush();
    try {
      // An answered probe proves the backend's subscription reached the BFF's server (requestAnswered resends the 503).
      await requestAnswered(bff.nc, "rpc.backend.ping", sc.encode("{}"));
      for (const reply of aimedAt) bff.nc.publish("rpc.backend.status", sc.encode('{"status":"resolved"}'), { reply });
      await bff.nc.flush();
      // Each request crossed the BFF account's import: the backend sees a reply the server made in its own account.
      const seen = await eventually(async () => [...replies], (got) => got.length >= 1 + aimedAt.length);
      expect(seen.every((r) => r.startsWith("_R_.")), seen.join(", ")).toBe(true);
    } finally {
      answering.unsubscribe();
    }
    // The backend's answers were allowed (allow_responses) and went back into the BFF's account at the aimed
    // subjects, where nothing listens and which the BFF does not import.
    await backend.nc.flush();
    expect(backend.denials.filter((d) => d.subject.startsWith("_R_."))).toEqual([]);
    await workers.nc.flush();
    expect(workersInbox.getProcessed()).toBe(0);
    expect(await stored()).toBe(storedBefore);
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

  it("a push consumer it creates has no one to deliver to: never its own inbox, never a stream", async () => {
    // Before issue 19 this read EVENTS (the deliveries reached its inbox in the shared account). Now the server
    // would publish them in FLUO, where no client subscribes (its account imports no stream from FLUO), and a push
    // consumer delivers only while its deliver subject has interest: a stream's own subscription is not interest.
    const s = await session("fluo-provisioner");
    const manager = await jsm();
    const signalsBefore = (await manager.streams.info("SIGNALS")).state.messages;
    const deliver = `${inboxOf("fluo-provisioner")}.residual`;
    const sub = s.nc.subscribe(deliver);
    const probes = [
      { name: "residual-inbox", deliver_subject: deliver },
      { name: "residual-copy", deliver_subject: "signals.status.copied" },
    ];
    for (const p of probes) await manager.consumers.add("EVENTS", { ...p, ack_policy: "none" as never, inactive_threshold: 30e9 });
    try {
      await publishStored((await session("fluo-backend")).nc.jetstream(), "events.system.residual", sc.encode("not for the provisioner"));
      // An R3 consumer learns about interest through its leader; ask the leader twice, a full round trip apart.
      for (const p of probes) {
        await manager.consumers.info("EVENTS", p.name);
        const info = await manager.consumers.info("EVENTS", p.name);
        expect(info.push_bound ?? false, p.name).toBe(false);
        expect(info.delivered.stream_seq, p.name).toBe(0);
      }
      await s.nc.flush();
      expect(sub.getProcessed()).toBe(0);
      expect((await manager.streams.info("SIGNALS")).state.messages).toBe(signalsBefore);
    } finally {
      sub.unsubscribe();
      for (const p of probes) await manager.consumers.delete("EVENTS", p.name);
    }
  });
});

describe("abuse path 7: the backup identity", () => {
  it("what remains (README): a snapshot's chunks go to the deliver subject it names, in the stream account, a stream subject too", async () => {
    // The deliver subject is payload of the snapshot request, and the server publishes the chunks in the stream's
    // account (nats-server refuses only reserved subjects there). Like the provisioner's consumers, this is an
    // administrator's power: fluo-backup restores whole streams anyway, and never runs in an application pod.
    const s = await session("fluo-backup");
    const manager = await jsm();
    const before = (await manager.streams.info("SIGNALS")).state.messages;
    const answer = await s.nc.request("$JS.API.STREAM.SNAPSHOT.DEADLETTER", sc.encode(JSON.stringify({ deliver_subject: "signals.status.snapshot", chunk_size: 1024 })), { timeout: ADMIN_TIMEOUT_MS });
    expect(sc.decode(answer.data)).not.toMatch(/"error"/);
    expect(await eventually(async () => (await manager.streams.info("SIGNALS")).state.messages, (n) => n > before)).toBeGreaterThan(before);
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
  // Answers cross back through the BFF's import (allow_responses); nobody publishes into another identity's inbox.
  { name: "publish into the BFF's inbox", kind: "publish", subject: "_INBOX_FLUO_BFF.abc.1", allowed: [] },
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
  // The browser's identity: the signal subjects the UI shows and its own inbox, nothing else.
  { name: "watch new signals", kind: "subscription", subject: "signals.created", allowed: ["fluo-frontend"] },
  { name: "watch signal status changes", kind: "subscription", subject: "signals.status.*", allowed: ["fluo-frontend"] },
  { name: "read the frontend's inbox", kind: "subscription", subject: "_INBOX_FLUO_FRONTEND.>", allowed: ["fluo-frontend"] },
  { name: "watch every signal subject", kind: "subscription", subject: "signals.>", allowed: [] },
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
