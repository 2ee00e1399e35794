// `npm run local` with the stack's rotatingUsers, a child process on one state directory, as a developer practises
// a rotation (README "Password rotation"): a stack file copy with rotatingUsers [fluo-workers] started with --smoke
// (nats.conf lists fluo-workers-next, the start-up names its context), then running: fluo-workers-next pulls and
// acks a job through its own context as fluo-workers does; with --auth nkey its seed file is its own and logs in;
// and after steps 3 and 4 (the -next password made the user's own, the user removed from rotatingUsers) its
// contexts and credentials are gone, its login is refused and the own login works with the new password.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userNkeyFromSeed } from "../infra/nkeys";
import { inboxPrefixOf } from "../infra/users";
import { clientOptions, readContextFile } from "../lib/natsContext";
import { stateLayout } from "../local/stateDir";
import { catalogForStack } from "../streams/catalog";
import { readStackConfig } from "../infra/stackFile";
import { publishStored } from "../test/natsProbe.testkit";
import { runNatsCli } from "../test/natscli.testkit";
import { smokeFlow } from "./smoke";
import { LocalSession, PROJECT_ROOT, runCli, type LocalRun } from "./cli.testkit";

const stateDir = mkdtempSync(join(tmpdir(), "fluo-local-rotation-"));
const scratch = mkdtempSync(join(tmpdir(), "fluo-local-rotation-out-"));
// natscli keeps its own config under $HOME/.config/nats: a private HOME keeps the machine's contexts out.
const natsHome = join(scratch, "home");
const layout = stateLayout(stateDir);
// A copy of the dev stack beside Pulumi.yaml (where stack files must live; ignored by git), removed after the tests.
const stack = `clitest-rotation-${process.pid}`;
const stackFile = join(PROJECT_ROOT, `Pulumi.${stack}.yaml`);
const devConfig = (parse(readFileSync(join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> }).config;
const writeStack = (rotatingUsers: readonly string[]): void =>
  writeFileSync(stackFile, stringify({ config: { ...devConfig, ...(rotatingUsers.length > 0 ? { "fluo-queue:rotatingUsers": rotatingUsers } : {}) } }));

const NEXT = "fluo-workers-next";
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
const confOf = (i: number): string => readFileSync(join(stateDir, `nats-${i}`, "nats.conf"), "utf8");
const accountsOf = (conf: string): string => conf.slice(conf.indexOf("accounts {"));
const publicKey = (login: string): string => userNkeyFromSeed(readFileSync(layout.seedFile(login), "utf8")).publicKey;

let session: LocalSession;
let basePort: number;

// A step that failed before its stop left its cluster running: the session stops it before the next start.
const start = (args: readonly string[]): Promise<LocalRun> => session.start(["--stack", stack, ...args]);

beforeAll(async () => {
  session = await LocalSession.open(stateDir);
  basePort = session.basePort;
  writeStack(["fluo-workers"]);
});

afterAll(async () => {
  rmSync(stackFile, { force: true });
  await session?.cleanup(stateDir, scratch);
}, 60_000);

describe("npm run local with the stack's rotatingUsers", () => {
  it("--smoke: every nats.conf lists the login fluo-workers-next with a bcrypt hash, its context is written and printed, the smoke check passes", async () => {
    const run = await runCli("cli/local.ts", ["--stack", stack, "--smoke", "--state-dir", stateDir, "--base-port", String(basePort)], { timeoutMs: 120_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("Smoke check passed");
    for (const i of [0, 1, 2]) expect(accountsOf(confOf(i)), `nats-${i}`).toMatch(new RegExp(`user: "${NEXT}"\\n\\s+password: "\\$2[abxy]\\$`));
    expect(readJson(layout.contextFile(NEXT))).toMatchObject({ user: NEXT, password: readJson(layout.passwords)[NEXT], inbox_prefix: inboxPrefixOf("fluo-workers") });
    expect(run.stdout).toMatch(new RegExp(`^\\s+${NEXT}\\s+${layout.contextFile(NEXT).replace(/[.]/g, "\\.")}`, "m"));
    expect(readJson(layout.record).nextContexts).toEqual({ "fluo-workers": layout.contextFile(NEXT) });
  }, 150_000);

  it("running: fluo-workers-next pulls and acks a job from the workers' consumer through its context, and natscli shows the consumer", async () => {
    await start([]);
    const flow = smokeFlow(catalogForStack(readStackConfig(stack)));
    const { stream, name } = flow.jobs.consumer;
    const info = await runNatsCli(natsHome, ["--context", layout.contextFile(NEXT), "consumer", "info", stream, name]);
    expect(info.code, info.out).toBe(0);
    expect(info.out).toContain(name);
    const bff = await connect({ ...clientOptions(readContextFile(layout.contextFile(flow.jobs.publisher))), timeout: 10_000 });
    const worker = await connect({ ...clientOptions(readContextFile(layout.contextFile(NEXT))), timeout: 10_000 });
    try {
      const id = `rotation-${process.pid}`;
      const stored = await publishStored(bff.jetstream(), flow.jobs.subject, JSON.stringify({ id }), { msgID: id });
      const consumer = await worker.jetstream().consumers.get(stream, name);
      const batch = await consumer.fetch({ max_messages: 1, expires: 5_000 });
      const seqs: number[] = [];
      for await (const m of batch) {
        expect(m.string()).toContain(id);
        expect(await m.ackAck()).toBe(true);
        seqs.push(m.seq);
      }
      expect(seqs).toEqual([stored.seq]);
      expect((await consumer.info()).num_ack_pending).toBe(0);
    } finally {
      await bff.close();
      await worker.close();
    }
    expect(await session.stop()).toBe(0);
  }, 120_000);

  it("--auth nkey: fluo-workers-next.seed is its own key, listed beside the user's own in nats.conf, and logs in through its context", async () => {
    await start(["--auth", "nkey"]);
    const own = readFileSync(layout.seedFile("fluo-workers"), "utf8");
    const next = readFileSync(layout.seedFile(NEXT), "utf8");
    expect(next).toMatch(/^SU[A-Z2-7]{56}\n$/);
    expect(next).not.toBe(own);
    const accounts = accountsOf(confOf(0));
    expect(accounts).toContain(`nkey: "${publicKey("fluo-workers")}"`);
    expect(accounts).toContain(`nkey: "${publicKey(NEXT)}"`);
    expect(readJson(layout.contextFile(NEXT))).toMatchObject({ nkey: layout.seedFile(NEXT), inbox_prefix: inboxPrefixOf("fluo-workers") });
    const { stream, name } = smokeFlow(catalogForStack(readStackConfig(stack))).jobs.consumer;
    const info = await runNatsCli(natsHome, ["--context", layout.contextFile(NEXT), "consumer", "info", stream, name]);
    expect(info.code, info.out).toBe(0);
    expect(info.out).toContain(name);
    expect(await session.stop()).toBe(0);
  }, 120_000);

  it("steps 3 and 4 (fluo-workers takes the -next password, then leaves rotatingUsers): -next contexts and credentials gone, no -next login, the own login works with the new password", async () => {
    const passwords = readJson(layout.passwords);
    const nextPassword = passwords[NEXT] as string;
    expect(nextPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Step 3 as README "Password rotation" does it locally: the -next password becomes the user's own.
    writeFileSync(layout.passwords, JSON.stringify({ ...passwords, "fluo-workers": nextPassword }));
    writeStack([]);
    const local = await start([]);
    expect(existsSync(layout.contextFile(NEXT))).toBe(false);
    expect(existsSync(layout.nkeyContextFile(NEXT))).toBe(false);
    expect(accountsOf(confOf(0))).not.toContain(NEXT);
    expect(local.output()).not.toContain("(rotatingUsers: second login of");
    expect(readJson(layout.record).nextContexts).toBeUndefined();
    // Deleted from the store, as the cluster deletes the generated one (a later rotation gets a new credential);
    // the server no longer takes it.
    expect(local.output()).toContain("rotatingUsers: fluo-workers no longer rotating: fluo-workers-next's password and seed deleted");
    expect(readJson(layout.passwords)[NEXT]).toBeUndefined();
    expect(existsSync(layout.seedFile(NEXT))).toBe(false);
    await expect(
      connect({ servers: [...local.servers], user: NEXT, pass: nextPassword, inboxPrefix: inboxPrefixOf("fluo-workers"), reconnect: false, timeout: 10_000 }),
    ).rejects.toThrow(/authorization violation/i);
    // The user's own login, with the password that was the -next one.
    expect(readJson(layout.contextFile("fluo-workers")).password).toBe(nextPassword);
    const own = await connect({ ...clientOptions(readContextFile(layout.contextFile("fluo-workers"))), timeout: 10_000 });
    await own.close();
    expect(await session.stop()).toBe(0);
  }, 120_000);
});
