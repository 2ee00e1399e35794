// What the README tells operators to type with natscli (the pinned `nats`, tools/versions.json "natscli"), run
// for real against a local 3-node cluster set up as `npm run local` does it (dev stack, catalog applied as
// fluo-provisioner, the credentials files local/credentials.ts writes): each user's context file works with
// that user's permissions, a worker takes and acks a job the BFF published, and backups move both ways between
// `npm run backup`/`npm run restore` and `nats backup stream`/`nats backup restore stream`.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection, StreamInfo } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "../infra/passwordHash";
import { main as backupCli, PASSWORD_ENV } from "../cli/backup";
import type { Io } from "../cli/io";
import { readStackConfig } from "../infra/stackFile";
import { subjectMatches } from "../infra/permissions";
import { userSpecs, type UserName } from "../infra/users";
import { loadOrCreatePasswords, writeContextFiles, type LocalPasswords } from "../local/credentials";
import { clientOptions, readContextFile } from "../lib/natsContext";
import { LocalCluster } from "../local/localCluster";
import { prepareStateDir, stateLayout } from "../local/stateDir";
import { applyCatalog } from "../streams/ops/apply";
import { BACKUP_DATA_FILE, BACKUP_META_FILE } from "../streams/ops/backup";
import { closeConnections } from "../streams/provider/client";
import { runNatsCli } from "./natscli.testkit";
import { connect } from "nats";
import { ADMIN_TIMEOUT_MS, eventually, publishStored } from "./natsProbe.testkit";

const config = readStackConfig("dev");
const { catalog, grants } = deploymentModel(config);
const scratch = mkdtempSync(join(tmpdir(), "fluo-natscli-"));
const layout = stateLayout(join(scratch, "state"));
// natscli keeps its own config under $HOME/.config/nats: a private HOME keeps the machine's contexts out.
const natsHome = join(scratch, "home");

let cluster: LocalCluster;
let passwords: LocalPasswords;
let contexts: Record<UserName, string>;
const open: NatsConnection[] = [];

interface CliResult {
  readonly code: number | null;
  readonly out: string;
}

/** `nats --context <user's credentials file> <args>`, stdout and stderr together (natscli logs to stderr). */
function nats(user: UserName, args: readonly string[]): Promise<CliResult> {
  return runNatsCli(natsHome, ["--context", contexts[user], ...args]);
}

async function as(user: UserName): Promise<NatsConnection> {
  const nc = await connect({ ...clientOptions(readContextFile(contexts[user])), reconnect: false, timeout: 10_000 });
  open.push(nc);
  return nc;
}

/** `npm run backup` / `npm run restore` as fluo-backup, in process (cli/backup.ts's main). */
async function projectCli(argv: string[]): Promise<CliResult> {
  const lines: string[] = [];
  const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), env: { [PASSWORD_ENV]: passwords["fluo-backup"] } };
  const code = await backupCli([...argv.slice(0, 1), "--url", cluster.servers.join(","), ...argv.slice(1)], io);
  return { code, out: lines.join("\n") };
}

/** A subject `user` may publish into `streamSubjects`, from its derived grants (wildcards filled in). */
function publishSubject(user: UserName, streamSubjects: string): string {
  const allowed = grants.find((g) => g.spec.name === user)!.permissions.publish.allow.find((s) => subjectMatches(streamSubjects, s));
  if (!allowed) throw new Error(`${user} may publish nothing into ${streamSubjects}`);
  return allowed.replace(/\*/g, "natscli").replace(/>$/, "natscli");
}

/** The stream's messages and config once more, for comparing a restore with what was backed up. */
async function streamInfo(name: string): Promise<StreamInfo> {
  return (await (await as("fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).streams.info(name);
}

/** Publishes `count` incompressible events as the BFF (several snapshot chunks) and returns EVENTS' info. */
async function fillEvents(count: number): Promise<StreamInfo> {
  const js = (await as("fluo-bff")).jetstream();
  const subject = publishSubject("fluo-bff", "events.>");
  for (let i = 0; i < count; i++) await publishStored(js, subject, randomBytes(2048));
  return streamInfo("EVENTS");
}

/** Deletes EVENTS as the provisioner: a restore is refused while the stream exists, and fluo-backup cannot delete. */
async function deleteEvents(): Promise<void> {
  expect(await (await (await as("fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).streams.delete("EVENTS")).toBe(true);
}

/** The restored stream equals what was backed up: config, messages, sequences, and its consumer is back. */
async function expectRestored(before: StreamInfo): Promise<void> {
  // The restored stream answers at once; its consumers are assigned through the meta group a moment later.
  const after = await eventually(() => streamInfo("EVENTS"), (i) => i.state.consumer_count === before.state.consumer_count);
  expect(after.config).toEqual(before.config);
  expect({ messages: after.state.messages, first: after.state.first_seq, last: after.state.last_seq, bytes: after.state.bytes }).toEqual({
    messages: before.state.messages,
    first: before.state.first_seq,
    last: before.state.last_seq,
    bytes: before.state.bytes,
  });
  expect(after.state.consumer_count).toBe(before.state.consumer_count);
}

beforeAll(async () => {
  mkdirSync(natsHome, { recursive: true });
  prepareStateDir(layout);
  passwords = loadOrCreatePasswords(layout);
  cluster = await LocalCluster.start({ config, grants, hashes: passwordHashes(passwords), stateDir: layout.root });
  await cluster.waitForMetaLeader();
  contexts = writeContextFiles(layout, cluster.servers, { authentication: "password", passwords }).contexts;
  const provisioner = userSpecs().find((s) => s.name === "fluo-provisioner")!;
  await applyCatalog(
    { servers: cluster.servers, user: provisioner.name, password: passwords[provisioner.name], inboxPrefix: provisioner.inboxPrefix },
    catalog,
    { allowDestroy: config.allowDestroy },
  );
  await closeConnections();
});

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("natscli with the context files local mode writes", () => {
  it("the provisioner lists the catalog's streams (`nats --context <file> stream ls`)", async () => {
    const table = await nats("fluo-provisioner", ["stream", "ls"]);
    expect(table.code, table.out).toBe(0);
    for (const s of catalog.streams) expect(table.out).toContain(s.name);
    const names = await nats("fluo-provisioner", ["stream", "ls", "--names"]);
    expect(names.out.split(/\s+/).filter((n) => n !== "").sort()).toEqual(catalog.streams.map((s) => s.name).sort());
  });

  it("a worker reads its own consumer (the README's `consumer info JOBS trace-analysis`), not another user's", async () => {
    const own = await nats("fluo-workers", ["consumer", "info", "JOBS", "trace-analysis"]);
    expect(own.code, own.out).toBe(0);
    expect(own.out).toMatch(/Name: trace-analysis/);
    // A denied request gets no answer: natscli gives up after --timeout and reports the server's violation.
    const other = await nats("fluo-workers", ["--timeout", "3s", "consumer", "info", "EVENTS", "audit-replay"]);
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/permissions violation/i);
  });

  it("the BFF publishes a job with a JetStream ack; a worker takes it with `consumer next` and acks it", async () => {
    const payload = `{"trace":"${randomBytes(6).toString("hex")}"}`;
    const published = await nats("fluo-bff", ["pub", "--jetstream", "jobs.trace_analysis", payload]);
    expect(published.code, published.out).toBe(0);
    const seq = Number(/Stored in Stream: JOBS Sequence: (\d+)/.exec(published.out)?.[1]);
    expect(seq).toBeGreaterThan(0);

    // The BFF may publish jobs but never take them.
    const stolen = await nats("fluo-bff", ["--timeout", "3s", "consumer", "next", "JOBS", "trace-analysis"]);
    expect(stolen.code).not.toBe(0);

    const taken = await nats("fluo-workers", ["consumer", "next", "JOBS", "trace-analysis"]);
    expect(taken.code, taken.out).toBe(0);
    expect(taken.out).toContain(payload);
    expect(taken.out).toContain("Acknowledged message");
    // natscli acks with a plain publish (no reply): the consumer leader may process it after natscli exits.
    const jsm = await (await as("fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const consumer = await eventually(() => jsm.consumers.info("JOBS", "trace-analysis"), (c) => c.ack_floor.stream_seq >= seq);
    expect(consumer.ack_floor.stream_seq).toBe(seq);
    expect(consumer.num_ack_pending).toBe(0);
    expect(consumer.num_pending).toBe(0);
  });

  it("the BFF may not publish what the workers publish (signals), and natscli says so", async () => {
    const denied = await nats("fluo-bff", ["--timeout", "3s", "pub", "--jetstream", publishSubject("fluo-workers", "signals.>"), "{}"]);
    expect(denied.code).not.toBe(0);
    expect(denied.out).toMatch(/permissions violation/i);
  });
});

describe("backups between natscli and this project's CLI, as fluo-backup", () => {
  it("`npm run backup` writes what `nats backup restore stream` restores (and natscli's 2.15 tools read)", async () => {
    const before = await fillEvents(150);
    const dir = join(scratch, "npm-backup");
    const saved = await projectCli(["backup", "--stream", "EVENTS", "--out", dir]);
    expect(saved.code, saved.out).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([BACKUP_META_FILE, BACKUP_DATA_FILE].sort());
    const validated = await nats("fluo-backup", ["backup", "validate", "--no-progress", dir]);
    expect(validated.code, validated.out).toBe(0);

    await deleteEvents();
    const restored = await nats("fluo-backup", ["backup", "restore", "stream", "--no-progress", dir]);
    expect(restored.code, restored.out).toBe(0);
    await expectRestored(before);
  });

  it("`nats backup stream` writes what `npm run restore` restores", async () => {
    const before = await fillEvents(50);
    const dir = join(scratch, "natscli-backup");
    const saved = await nats("fluo-backup", ["backup", "stream", "--no-progress", "EVENTS", dir]);
    expect(saved.code, saved.out).toBe(0);
    expect(existsSync(join(dir, BACKUP_META_FILE))).toBe(true);

    await deleteEvents();
    const restored = await projectCli(["restore", "--dir", dir]);
    expect(restored.code, restored.out).toBe(0);
    expect(restored.out).toMatch(new RegExp(`^Restored stream EVENTS from ${dir}: ${before.state.messages} messages`, "m"));
    await expectRestored(before);
  });
});
