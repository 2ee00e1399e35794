// `npm run local -- --auth ...` as a developer runs it, a child process, on one state directory: password+nkey (both
// logins; NKEY contexts beside the password ones), then nkey (nats.conf holds public keys only, every password that
// worked before is refused, natscli and our CLIs log in through the NKEY contexts or by default), a restart that
// reuses the seeds byte for byte with `--smoke`, and back to the stack's password logins with `--smoke`.

import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userNkeyFromSeed } from "../infra/nkeys";
import { userSpecs } from "../infra/users";
import { stateLayout } from "../local/stateDir";
import { runNatsCli, type NatsCliResult } from "../test/natscli.testkit";
import { LocalSession, runCli, type LocalRun } from "./cli.testkit";

const stateDir = mkdtempSync(join(tmpdir(), "fluo-local-nkey-"));
const scratch = mkdtempSync(join(tmpdir(), "fluo-local-nkey-out-"));
// natscli keeps its own config under $HOME/.config/nats: a private HOME keeps the machine's contexts out.
const natsHome = join(scratch, "home");
const layout = stateLayout(stateDir);
const users = userSpecs().map((u) => u.name);
const STREAMS = ["DEADLETTER", "EVENTS", "JOBS", "SIGNALS"];
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
const digest = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
const publicKey = (user: string): string => userNkeyFromSeed(readFileSync(layout.seedFile(user), "utf8")).publicKey;
const confOf = (i: number): string => readFileSync(join(stateDir, `nats-${i}`, "nats.conf"), "utf8");
const accountsOf = (conf: string): string => conf.slice(conf.indexOf("accounts {"));
const names = (r: NatsCliResult): string[] => r.out.split(/\s+/).filter((w) => w !== "").sort();

let session: LocalSession;
let basePort: number;

const start = (args: readonly string[]): Promise<LocalRun> => session.start(args);

beforeAll(async () => {
  session = await LocalSession.open(stateDir);
  basePort = session.basePort;
  await start(["--auth", "password+nkey"]);
}, 120_000);

afterAll(async () => {
  await session?.cleanup(stateDir, scratch);
}, 60_000);

describe("npm run local -- --auth", () => {
  it("password+nkey: nats.conf has both logins per user; <user>.json keeps the password, <user>.nkey.json names the seed, natscli logs in with it", async () => {
    expect(session.current!.readyLine).toContain("(authentication password+nkey)");
    const accounts = accountsOf(confOf(0));
    for (const user of users) {
      expect(accounts, user).toContain(`nkey: "${publicKey(user)}"`);
      expect(accounts).toMatch(new RegExp(`user: "${user}"\\n\\s+password: "\\$2[abxy]\\$`));
      expect(statSync(layout.seedFile(user)).mode & 0o777).toBe(0o600);
      expect(readJson(layout.contextFile(user))).toMatchObject({ user, password: expect.any(String) });
      const nkeyContext = readJson(layout.nkeyContextFile(user));
      expect(nkeyContext).toMatchObject({ nkey: layout.seedFile(user) });
      expect(nkeyContext.user).toBeUndefined();
    }
    // Both ways to connect are printed, the NKEY one with nkeyAuthenticator.
    expect(session.current!.output()).toContain(`nats --context ${layout.nkeyContextFile("fluo-provisioner")} stream ls`);
    expect(session.current!.output()).toContain("authenticator: nkeyAuthenticator(");
    expect(session.current!.output()).toContain("user: c.user, pass: c.password");
    const ls = await runNatsCli(natsHome, ["--context", layout.nkeyContextFile("fluo-provisioner"), "stream", "ls", "--names"]);
    expect(ls.code, ls.out).toBe(0);
    expect(names(ls)).toEqual(STREAMS);
    expect(readJson(layout.record)).toMatchObject({ authentication: "password+nkey" });
    expect(await session.stop()).toBe(0);
  });

  it("nkey: every server's nats.conf lists public keys only (no bcrypt hash; the route's password is the only one), no hashing at start", async () => {
    const local = await start(["--auth", "nkey"]);
    expect(local.readyLine).toContain("(authentication nkey)");
    expect(local.output()).toContain("the last start logged in with authentication password+nkey: switching to nkey");
    expect(local.output()).not.toContain("hashing passwords");
    for (const i of [0, 1, 2]) {
      const conf = confOf(i);
      const accounts = accountsOf(conf);
      for (const user of users) expect(accounts, `nats-${i} ${user}`).toContain(`nkey: "${publicKey(user)}"`);
      expect(conf).not.toMatch(/\$2[abxy]\$/);
      expect(accounts).not.toMatch(/password|user:/);
      expect(conf.match(/password: /g)).toHaveLength(1);
      expect(conf).toMatch(/authorization \{\n\s+user: "fluo-route"\n\s+password: /);
    }
  });

  it("nkey: each context names its seed file and no user or password; the password+nkey start's NKEY contexts are gone", () => {
    for (const user of users) {
      const context = readJson(layout.contextFile(user));
      expect(context.nkey, user).toBe(layout.seedFile(user));
      expect(context.user).toBeUndefined();
      expect(context.password).toBeUndefined();
      expect(existsSync(layout.nkeyContextFile(user))).toBe(false);
    }
    expect(session.current!.output()).toContain("authenticator: nkeyAuthenticator(new TextEncoder().encode(readFileSync(c.nkey");
    expect(session.current!.output()).not.toContain("user: c.user, pass: c.password");
  });

  it("nkey: a password CONNECT is refused for every user, with the password that logged in one start before", async () => {
    const passwords = readJson(layout.passwords) as Record<string, string>;
    for (const user of users) {
      const inboxPrefix = userSpecs().find((u) => u.name === user)!.inboxPrefix;
      await expect(connect({ servers: [...session.current!.servers], user, pass: passwords[user], inboxPrefix, reconnect: false, timeout: 10_000 }), user).rejects.toThrow(
        /authorization violation/i,
      );
    }
  });

  it("nkey: natscli, drift (context and default), backup (default), restore (context) and bench log in with the seeds", async () => {
    const ls = await runNatsCli(natsHome, ["--context", layout.contextFile("fluo-provisioner"), "stream", "ls", "--names"]);
    expect(ls.code, ls.out).toBe(0);
    expect(names(ls)).toEqual(STREAMS);
    for (const args of [["--context", layout.contextFile("fluo-provisioner")], ["--state-dir", stateDir]]) {
      const drift = await runCli("cli/drift.ts", ["--stack", "dev", ...args]);
      expect(drift.code, `${args.join(" ")}\n${drift.stderr}`).toBe(0);
      expect(drift.stdout).toMatch(/^No drift: nats:\/\/127\.0\.0\.1:\d+,.* matches stack dev/m);
    }
    const out = join(scratch, "events");
    const backup = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", out, "--state-dir", stateDir]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^Backed up stream EVENTS /);
    // A restore needs the stream gone: the provisioner removes it with its NKEY context.
    const rm = await runNatsCli(natsHome, ["--context", layout.contextFile("fluo-provisioner"), "stream", "rm", "EVENTS", "-f"]);
    expect(rm.code, rm.out).toBe(0);
    const restore = await runCli("cli/backup.ts", ["restore", "--dir", out, "--context", layout.contextFile("fluo-backup")]);
    expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);
    expect(restore.stdout).toMatch(/Restored stream EVENTS/);
    const bench = await runCli("bench/dataPath.ts", ["--context", layout.contextFile("fluo-bff"), "--rate", "100", "--seconds", "1", "--messages", "100", "--in-flight", "16"], {
      timeoutMs: 120_000,
    });
    expect(bench.code, `${bench.stdout}\n${bench.stderr}`).toBe(0);
    expect(bench.stdout).toContain("PASS: every acked job consumed exactly once");
  }, 180_000);

  it("a restart with --auth nkey --smoke reuses every seed byte for byte, and the smoke check passes", async () => {
    expect(await session.stop()).toBe(0);
    const before = users.map((u) => digest(layout.seedFile(u)));
    const run = await runCli("cli/local.ts", ["--auth", "nkey", "--smoke", "--state-dir", stateDir, "--base-port", String(basePort)], { timeoutMs: 120_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).not.toContain("switching");
    expect(run.stdout).toContain("Smoke check passed");
    expect(users.map((u) => digest(layout.seedFile(u)))).toEqual(before);
  }, 150_000);

  it("back to the stack's password logins on the same state directory: password contexts only, and the smoke check passes", async () => {
    const run = await runCli("cli/local.ts", ["--smoke", "--state-dir", stateDir, "--base-port", String(basePort)], { timeoutMs: 120_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("the last start logged in with authentication nkey: switching to password");
    expect(run.stdout).toMatch(/^Ready: .*\(authentication password\)/m);
    expect(run.stdout).toContain("Smoke check passed");
    expect(accountsOf(confOf(0))).not.toContain("nkey:");
    for (const user of users) {
      const context = readJson(layout.contextFile(user));
      expect(context, user).toMatchObject({ user, password: expect.any(String) });
      expect(context.nkey).toBeUndefined();
      expect(existsSync(layout.nkeyContextFile(user))).toBe(false);
    }
    expect(readJson(layout.record)).toMatchObject({ authentication: "password" });
  }, 150_000);
});
