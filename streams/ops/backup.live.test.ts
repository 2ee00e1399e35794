// Backup and restore with the fluo-backup identity on a live 3-node cluster started from the rendered nats.conf
// (dev stack, grants derived from the catalog): the provisioner creates the catalog, the application users
// write and read EVENTS, fluo-backup snapshots it to bytes, the provisioner deletes it, fluo-backup restores it,
// and the messages, the config and the consumer's position are back. fluo-backup's grants are exactly
// BACKUP_SUBJECTS plus its inbox; every operation below would fail with a permissions violation without its
// subject, and the refusals at the end are the server's, naming the subject.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, DeliverPolicy, Events, type ConsumerInfo, type JetStreamManager, type NatsConnection, type StreamInfo } from "nats";
import { deploymentModel } from "../../model";
import { passwordHashes } from "../../infra/passwordHash";
import { readStackConfig } from "../../infra/stackFile";
import { subjectMatches } from "../../infra/permissions";
import { BACKUP_SUBJECTS, userSpecs, type UserName } from "../../infra/users";
import { LocalCluster } from "../../local/localCluster";
import { ADMIN_TIMEOUT_MS, connectAs, nextPermissionError, publishStored, subscriptionDenied, TEST_PASSWORDS } from "../../test/natsProbe.testkit";
import { JetStreamApiError, readBackupDir, restoreStream, snapshotStream, writeBackupDir, type StreamBackup } from "./backup";
import { consumerApiConfig, streamApiConfig } from "../fields";
import { main as backupCli, PASSWORD_ENV } from "../../cli/backup";
import type { Io } from "../../cli/io";

const config = readStackConfig("dev");
// The same model as pulumi up: catalog with the dev overrides, policy checked, grants derived from it.
const { catalog, grants } = deploymentModel(config);
const BACKUP_INBOX = userSpecs().find((u) => u.name === "fluo-backup")!.inboxPrefix;

// Incompressible payloads, ~800KiB in all: the snapshot spans several 128KiB chunks, so chunk acks and a
// multi-chunk upload are exercised.
const EVENT_COUNT = 200;
// A subject fluo-bff may publish into EVENTS, from its derived grants (wildcards filled in).
const BFF_EVENT_SUBJECT = grants
  .find((g) => g.spec.name === "fluo-bff")!
  .permissions.publish.allow.find((s) => subjectMatches("events.>", s))!
  .replace(/\*/g, "backup_test")
  .replace(/>$/, "backup_test");
const events = Array.from({ length: EVENT_COUNT }, () => ({ subject: BFF_EVENT_SUBJECT, data: randomBytes(4096) }));
const CONSUMED_BEFORE_BACKUP = 25;

let cluster: LocalCluster;
let stateDir: string;
const open: NatsConnection[] = [];
/** Every permissions violation the server reported to fluo-backup, as "<operation> <subject>". */
const backupDenials: string[] = [];
let backup: NatsConnection;
let provisioner: NatsConnection;
let before: StreamInfo;
let snapshot: StreamBackup;

async function as(user: UserName): Promise<NatsConnection> {
  const nc = await connectAs(cluster.servers, user);
  open.push(nc);
  return nc;
}

/** fluo-backend's position on EVENTS/audit-replay: pulls and acks `count` events, returns their payloads. */
async function pullEvents(count: number): Promise<Buffer[]> {
  const backend = await as("fluo-backend");
  const consumer = await backend.jetstream().consumers.get("EVENTS", "audit-replay");
  const got: Buffer[] = [];
  while (got.length < count) {
    const batch = await consumer.fetch({ max_messages: count - got.length, expires: 5_000 });
    let n = 0;
    for await (const m of batch) {
      got.push(Buffer.from(m.data));
      await m.ackAck();
      n++;
    }
    if (n === 0) throw new Error(`audit-replay delivered ${got.length} of ${count} events, then nothing`);
  }
  return got;
}

/**
 * The consumer's info once it is led and reports `pending` messages (fails after 30s with what it saw). After a
 * clustered restore on 2.9 the stream answers at once, but its consumers elect their Raft leaders a few seconds
 * later: until then consumer info times out or reads num_pending 0, and a pull request is lost.
 */
async function restoredConsumer(jsm: JetStreamManager, stream: string, name: string, pending: number): Promise<ConsumerInfo> {
  const deadline = Date.now() + 30_000;
  let seen = "no answer";
  while (Date.now() < deadline) {
    try {
      const info = await jsm.consumers.info(stream, name);
      if (info.cluster?.leader && info.num_pending === pending) return info;
      seen = `leader ${info.cluster?.leader ?? "none"}, num_pending ${info.num_pending}`;
    } catch (err) {
      seen = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`consumer ${stream}/${name} not ready with ${pending} pending after 30s (last: ${seen})`);
}

/**
 * A stream config without the metadata a 2.11+ server adds to its API answers about itself (`_nats.ver` and
 * `_nats.level`: the answering server's version and API level). A snapshot carries the stored config, which has
 * only what the stream keeps (`_nats.req.level`), so the live answer and the backup differ by exactly these.
 */
function storedConfig(config: StreamInfo["config"]): StreamInfo["config"] {
  if (!config.metadata) return config;
  const { "_nats.ver": _ver, "_nats.level": _level, ...kept } = config.metadata;
  void _ver;
  void _level;
  return { ...config, metadata: kept };
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-backup-"));
  cluster = await LocalCluster.start({
    config,
    grants,
    hashes: passwordHashes(TEST_PASSWORDS),
    stateDir,
  });
  await cluster.waitForMetaLeader();
  provisioner = await as("fluo-provisioner");
  const jsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
  for (const s of catalog.streams) await jsm.streams.add(streamApiConfig(s));
  for (const c of catalog.consumers) await jsm.consumers.add(c.stream, consumerApiConfig(c));

  backup = await as("fluo-backup");
  void (async () => {
    for await (const s of backup.status()) {
      if (s.type === Events.Error && s.permissionContext) backupDenials.push(`${s.permissionContext.operation} ${s.permissionContext.subject}`);
    }
  })();
});

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("fluo-backup: snapshot and restore of EVENTS", () => {
  it("the application users write EVENTS and the backend consumes part of it", async () => {
    const bff = await as("fluo-bff");
    const js = bff.jetstream();
    for (const e of events) await publishStored(js, e.subject, e.data);
    const consumed = await pullEvents(CONSUMED_BEFORE_BACKUP);
    expect(consumed).toEqual(events.slice(0, CONSUMED_BEFORE_BACKUP).map((e) => e.data));
    before = await (await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).streams.info("EVENTS");
    expect(before.state.messages).toBe(EVENT_COUNT);
  });

  it("lists and inspects streams (JetStream info, stream names, list and info)", async () => {
    const jsm = await backup.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS }); // requests $JS.API.INFO
    expect((await jsm.getAccountInfo()).streams).toBe(catalog.streams.length);
    expect((await jsm.streams.names().next()).sort()).toEqual(catalog.streams.map((s) => s.name).sort());
    expect((await jsm.streams.list().next()).map((s) => s.config.name).sort()).toEqual(catalog.streams.map((s) => s.name).sort());
    expect((await jsm.streams.info("EVENTS")).state.messages).toBe(EVENT_COUNT);
    expect(backupDenials).toEqual([]);
  });

  it("snapshots EVENTS with its consumers into bytes, acking every chunk", async () => {
    snapshot = await snapshotStream(backup, "EVENTS", { inboxPrefix: BACKUP_INBOX });
    expect(snapshot.meta.config).toEqual(storedConfig(before.config));
    expect(snapshot.meta.state.messages).toBe(EVENT_COUNT);
    expect(snapshot.meta.state.last_seq).toBe(before.state.last_seq);
    // Random payloads do not compress: the snapshot holds at least every payload byte (several chunks).
    expect(snapshot.data.length).toBeGreaterThan(EVENT_COUNT * 4096);
    expect(backupDenials).toEqual([]);
  });

  it("round-trips the snapshot through natscli's directory layout unchanged", () => {
    const dir = join(stateDir, "backup-EVENTS");
    writeBackupDir(dir, snapshot);
    const read = readBackupDir(dir);
    expect(read.meta).toEqual(snapshot.meta);
    expect(Buffer.compare(Buffer.from(read.data), Buffer.from(snapshot.data))).toBe(0);
  });

  it("refuses to restore over the live stream", async () => {
    const err = await restoreStream(backup, snapshot, { inboxPrefix: BACKUP_INBOX }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetStreamApiError);
    expect((err as JetStreamApiError).message).toMatch(/already in use|exist/i);
  });

  it("restores EVENTS after the provisioner deleted it: same config, same messages, the consumer's position kept", async () => {
    const jsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    // EVENTS has denyDelete (no single-message delete); deleting the whole stream is allowed, and is the
    // provisioner's job, never fluo-backup's.
    expect(await jsm.streams.delete("EVENTS")).toBe(true);
    expect((await jsm.streams.names().next()).includes("EVENTS")).toBe(false);

    // Small chunks: the upload is ~13 requests, each acked by the server.
    const restored = await restoreStream(backup, readBackupDir(join(stateDir, "backup-EVENTS")), { inboxPrefix: BACKUP_INBOX, chunkSize: 64 * 1024 });
    expect(restored.config).toEqual(before.config);
    expect(restored.state.messages).toBe(EVENT_COUNT);
    expect(backupDenials).toEqual([]);

    const after = await jsm.streams.info("EVENTS");
    expect(after.config).toEqual(before.config);
    expect({ ...after.state, consumer_count: undefined }).toEqual({ ...before.state, consumer_count: undefined });
    expect(after.state.consumer_count).toBe(before.state.consumer_count);
    const consumer = await restoredConsumer(jsm, "EVENTS", "audit-replay", EVENT_COUNT - CONSUMED_BEFORE_BACKUP);
    expect(consumer.ack_floor.stream_seq).toBe(CONSUMED_BEFORE_BACKUP);
    expect(consumer.delivered.stream_seq).toBe(CONSUMED_BEFORE_BACKUP);

    // The backend resumes where it was before the backup and reads exactly the published payloads.
    const rest = await pullEvents(EVENT_COUNT - CONSUMED_BEFORE_BACKUP);
    expect(rest).toEqual(events.slice(CONSUMED_BEFORE_BACKUP).map((e) => e.data));
  });
});

describe("fluo-backup: nothing beyond backup and restore", () => {
  it("is granted exactly the backup subjects, snapshot/restore of the catalog's streams, and its own inbox", () => {
    const grant = grants.find((g) => g.spec.name === "fluo-backup")!;
    const perStream = catalog.streams.flatMap((st) => [`$JS.API.STREAM.SNAPSHOT.${st.name}`, `$JS.API.STREAM.RESTORE.${st.name}`]);
    expect(grant.permissions.publish.allow).toEqual([...BACKUP_SUBJECTS, ...perStream].sort());
    expect(grant.permissions.subscribe.allow).toEqual([`${BACKUP_INBOX}.>`]);
    expect(grant.permissions.publish.deny).toEqual([]);
  });

  it("cannot publish to data subjects", async () => {
    const denied = nextPermissionError(backup, 5_000);
    backup.publish("events.audit.forged", new TextEncoder().encode("forged"));
    expect(await denied).toBe("publish events.audit.forged");
  });

  it("cannot create consumers, nor pull from an existing one", async () => {
    const jsm = await backup.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    let denied = nextPermissionError(backup, 5_000);
    await expect(
      jsm.consumers.add("EVENTS", { durable_name: "sneaky", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All }),
    ).rejects.toThrow(/permissions violation/i);
    expect(await denied).toBe("publish $JS.API.CONSUMER.CREATE.EVENTS.sneaky");

    denied = nextPermissionError(backup, 5_000);
    await expect(backup.request("$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit-replay", '{"batch":1}', { timeout: 5_000 })).rejects.toThrow(
      /permissions violation/i,
    );
    expect(await denied).toBe("publish $JS.API.CONSUMER.MSG.NEXT.EVENTS.audit-replay");
    expect(await subscriptionDenied(backup.subscribe("events.>"), 0, backup)).toBe(true);
  });

  it("cannot delete, create or update streams", async () => {
    const jsm = await backup.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    let denied = nextPermissionError(backup, 5_000);
    await expect(jsm.streams.delete("EVENTS")).rejects.toThrow(/permissions violation/i);
    expect(await denied).toBe("publish $JS.API.STREAM.DELETE.EVENTS");

    denied = nextPermissionError(backup, 5_000);
    await expect(jsm.streams.add({ name: "STRAY", subjects: ["stray.>"] })).rejects.toThrow(/permissions violation/i);
    expect(await denied).toBe("publish $JS.API.STREAM.CREATE.STRAY");

    // A restore creates a stream from the backup's config: only into the catalog's stream names.
    denied = nextPermissionError(backup, 5_000);
    await expect(backup.request("$JS.API.STREAM.RESTORE.STRAY", JSON.stringify({ config: { name: "STRAY", subjects: ["rpc.>"] }, state: {} }), { timeout: 5_000 })).rejects.toThrow(
      /permissions violation/i,
    );
    expect(await denied).toBe("publish $JS.API.STREAM.RESTORE.STRAY");

    const provisionerJsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    expect((await provisionerJsm.streams.info("EVENTS")).state.messages).toBe(EVENT_COUNT);
    expect(await provisionerJsm.streams.names().next()).not.toContain("STRAY");
  });
});

describe("npm run backup / npm run restore", () => {
  const run = async (argv: string[], env: Record<string, string> = { [PASSWORD_ENV]: TEST_PASSWORDS["fluo-backup"] }) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env };
    return { code: await backupCli(argv, io), out: out.join("\n"), err: err.join("\n") };
  };

  it("backs EVENTS up into a directory and restores it after a delete", async () => {
    const dir = join(stateDir, "cli-EVENTS");
    const url = cluster.servers.join(",");
    const saved = await run(["backup", "--url", url, "--stream", "EVENTS", "--out", dir]);
    expect(saved.err).toBe(`backup: connecting to ${url} as fluo-backup (credentials from ${PASSWORD_ENV}; gives up after 5 s)`);
    expect(saved.code).toBe(0);
    expect(saved.out).toMatch(new RegExp(`^Backed up stream EVENTS \\(${EVENT_COUNT} messages, seq 1\\.\\.${EVENT_COUNT}, 1 consumers\\)`));
    expect(readBackupDir(dir).meta.config).toEqual(storedConfig(before.config));

    const jsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    expect(await jsm.streams.delete("EVENTS")).toBe(true);
    const restored = await run(["restore", "--url", url, "--dir", dir]);
    expect(restored.err).toBe(`restore: connecting to ${url} as fluo-backup (credentials from ${PASSWORD_ENV}; gives up after 5 s)`);
    expect(restored.code).toBe(0);
    expect(restored.out).toBe(`Restored stream EVENTS from ${dir}: ${EVENT_COUNT} messages, seq 1..${EVENT_COUNT}.`);
    const after = await jsm.streams.info("EVENTS");
    expect(after.config).toEqual(before.config);
    expect(after.state.messages).toBe(EVENT_COUNT);
  });

  it("exits 1 naming the problem: no password, a wrong one, a stream that exists", async () => {
    const url = cluster.servers.join(",");
    const noPassword = await run(["backup", "--url", url, "--stream", "EVENTS", "--out", join(stateDir, "x"), "--state-dir", join(stateDir, "no-local")], {});
    expect(noPassword.code).toBe(1);
    expect(noPassword.err).toContain(`no credentials for fluo-backup: ${url} is not the local cluster of`);
    expect(noPassword.err).toContain(`--url with --password or ${PASSWORD_ENV}`);
    const wrong = await run(["backup", "--url", url, "--stream", "EVENTS", "--out", join(stateDir, "x"), "--password", "nope"], {});
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/authorization violation/i);
    const exists = await run(["restore", "--url", url, "--dir", join(stateDir, "cli-EVENTS")]);
    expect(exists.code).toBe(1);
    expect(exists.err).toMatch(/^restore: restore of stream EVENTS: .*already in use/m);
  });
});
