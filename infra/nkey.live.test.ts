// authentication nkey on a live 3-node cluster from the rendered nats.conf (the stack config switch, not a hand-made
// login): first password+nkey, where every identity has both logins, then nkey after a reload, where nats.conf holds
// public keys only. Each application user does its job with its seed, the provisioner creates the catalog over the
// stream provider's own client with its seed, and every password that worked before is refused.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nkeyAuthenticator, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { readStackConfig } from "./stackFile";
import { passwordHashes, randomSaltKey } from "./passwordHash";
import { clusterLogins } from "./renderCluster";
import { userNkeyFromBytes, type UserNkey } from "./nkeys";
import { userSpecs, type UserName } from "./users";
import type { Authentication, StackConfig } from "./stackConfig";
import { LocalCluster } from "../local/localCluster";
import { closeConnections, jetStreamManager } from "../streams/provider/client";
import { PROVISIONER_INBOX, PROVISIONER_USER } from "../streams/provider/settings";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";
import { nextPermissionError, publishStored, requestAnswered, STANDARD_USERS, websocketOnly } from "../test/natsProbe.testkit";
import { runCli } from "../cli/cli.testkit";
import { NATS_CLI, requireBinary } from "../tools/resolve";

const sc = StringCodec();
const devConfig = readStackConfig("dev");
const configOf = (authentication: Authentication): StackConfig => ({ ...devConfig, authentication });
const { catalog, grants } = deploymentModel(configOf("nkey"));
const users = userSpecs().map((u) => u.name);
const passwords = Object.fromEntries(users.map((u) => [u, `nkey-test-${u}`])) as Record<UserName, string>;
const keys = Object.fromEntries(users.map((u) => [u, userNkeyFromBytes(randomBytes(32))])) as Record<UserName, UserNkey>;
const hashes = passwordHashes(passwords, randomSaltKey());
const publicKeys = Object.fromEntries(users.map((u) => [u, keys[u].publicKey])) as Record<UserName, string>;
const inboxOf = (user: UserName): string => userSpecs().find((u) => u.name === user)!.inboxPrefix;

let stateDir: string;
let cluster: LocalCluster;
const open: NatsConnection[] = [];

async function withSeed(user: UserName): Promise<NatsConnection> {
  const nc = await connect({ servers: cluster.servers, authenticator: nkeyAuthenticator(sc.encode(keys[user].seed)), inboxPrefix: inboxOf(user), reconnect: false, timeout: 30_000 });
  open.push(nc);
  return nc;
}

async function withPassword(user: UserName): Promise<NatsConnection> {
  const nc = await connect({ servers: cluster.servers, user, pass: passwords[user], inboxPrefix: inboxOf(user), reconnect: false, timeout: 30_000 });
  open.push(nc);
  return nc;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-nkey-"));
  const logins = clusterLogins("password+nkey", { hashes, publicKeys });
  cluster = await LocalCluster.start({ config: configOf("password+nkey"), grants, hashes: logins.hashes, extraLogins: logins.extraLogins, stateDir });
  await cluster.waitForMetaLeader();
});

afterAll(async () => {
  for (const nc of open) if (!nc.isClosed()) await nc.close().catch(() => undefined);
  await closeConnections();
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("authentication nkey on a live cluster", () => {
  let before: NatsConnection;

  it("password+nkey: every identity logs in with its password and with its seed (the browser's over WebSocket only)", async () => {
    for (const user of users.filter(websocketOnly)) {
      // fluo-frontend's allowed_connection_types: neither of its logins opens the client port.
      await expect(withPassword(user), user).rejects.toThrow(/authorization violation/i);
      await expect(withSeed(user), user).rejects.toThrow(/authorization violation/i);
    }
    for (const user of STANDARD_USERS) {
      const byPassword = await withPassword(user);
      const bySeed = await withSeed(user);
      expect(byPassword.info?.server_name, user).toBeTruthy();
      expect(bySeed.info?.server_name, user).toBeTruthy();
      await byPassword.close();
    }
    before = open.find((nc) => !nc.isClosed())!;
  });

  it("nkey: nats.conf holds public keys only; seeds keep working across the reload, passwords are refused", async () => {
    const logins = clusterLogins("nkey", { hashes, publicKeys });
    await cluster.reloadAuth(logins);
    const conf = readFileSync(cluster.nodes[0].confPath, "utf8");
    const accounts = conf.slice(conf.indexOf("accounts {"));
    for (const user of users) {
      expect(accounts).toContain(`nkey: "${publicKeys[user]}"`);
      expect(conf).not.toContain(keys[user].seed);
    }
    expect(accounts).not.toMatch(/password|user:/);
    // A seed connection opened before the switch is still authorized after it: moving over cuts nobody off.
    await before.flush();
    expect(before.isClosed()).toBe(false);
    for (const user of users) {
      await expect(withPassword(user), user).rejects.toThrow(/authorization violation/i);
    }
  });

  it("the provisioner creates the catalog with its seed over the stream provider's client", async () => {
    const jsm = await jetStreamManager({ servers: cluster.servers, user: PROVISIONER_USER, seed: keys["fluo-provisioner"].seed, inboxPrefix: PROVISIONER_INBOX });
    for (const s of catalog.streams) await jsm.streams.add(streamApiConfig(s));
    for (const c of catalog.consumers) await jsm.consumers.add(c.stream, consumerApiConfig(c));
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names.sort()).toEqual(catalog.streams.map((s) => s.name).sort());
  });

  it("the operator CLIs and natscli log in with a context whose nkey names a seed file", async () => {
    const contextOf = (user: UserName): string => {
      const seedFile = join(stateDir, `${user}.seed`);
      writeFileSync(seedFile, `${keys[user].seed}\n`, { mode: 0o600 });
      const file = join(stateDir, `${user}.json`);
      // No "user": with an NKEY the server refuses a login that also names one (natscli sends it).
      writeFileSync(file, JSON.stringify({ url: cluster.servers.join(","), nkey: seedFile, inbox_prefix: inboxOf(user) }), { mode: 0o600 });
      return file;
    };
    const drift = await runCli("cli/drift.ts", ["--stack", "dev", "--context", contextOf("fluo-provisioner")]);
    expect(drift.code, drift.stderr).toBe(0);
    expect(drift.stdout).toMatch(/^No drift: /);
    const out = join(stateDir, "backup-events");
    const backup = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", out, "--context", contextOf("fluo-backup")]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^Backed up stream EVENTS /);
    const natsHome = join(stateDir, "home");
    const ls = spawnSync(requireBinary(NATS_CLI).path, ["--context", contextOf("fluo-provisioner"), "stream", "ls", "--names"], {
      env: { HOME: natsHome, XDG_CONFIG_HOME: join(natsHome, ".config"), PATH: process.env.PATH ?? "" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout.split(/\s+/).filter((n) => n !== "").sort()).toEqual(catalog.streams.map((s) => s.name).sort());
    // A seed file holding something else is one line naming the file.
    writeFileSync(join(stateDir, "fluo-backup.seed"), "not a seed\n");
    const bad = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", join(stateDir, "b2"), "--context", join(stateDir, "fluo-backup.json")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/"nkey" .*fluo-backup\.seed does not hold an NKEY user seed/);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    writeFileSync(join(stateDir, "named.json"), JSON.stringify({ url: cluster.servers.join(","), user: "fluo-backup", nkey: join(stateDir, "fluo-backup.seed") }));
    const named = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", join(stateDir, "b3"), "--context", join(stateDir, "named.json")]);
    expect(named.code).toBe(1);
    expect(named.stderr.trim()).toMatch(/named\.json: has both "nkey" and "user"; with an NKEY the server refuses a login that also names a user, so remove "user"$/);
  });

  it("each application user does its job with its seed, within its permissions", async () => {
    const bff = await withSeed("fluo-bff");
    const backend = await withSeed("fluo-backend");
    const workers = await withSeed("fluo-workers");

    // BFF submits a job; the workers pull and ack it.
    const ack = await publishStored(bff.jetstream(), "jobs.rule_validation", sc.encode("job via nkey"));
    expect(ack.stream).toBe("JOBS");
    const msg = await (await workers.jetstream().consumers.get("JOBS", "rule-validation")).next({ expires: 5_000 });
    expect(msg && sc.decode(msg.data)).toBe("job via nkey");
    expect(await msg!.ackAck()).toBe(true);

    // The backend answers a BFF request; the answer crosses back through the BFF's import into its inbox.
    const service = backend.subscribe("rpc.backend.>", { callback: (_err, m) => m.respond(sc.encode(`answer to ${sc.decode(m.data)}`)) });
    await backend.flush();
    expect(sc.decode((await requestAnswered(bff, "rpc.backend.ping", sc.encode("ping"))).data)).toBe("answer to ping");
    service.unsubscribe();

    // The seed carries the identity's permissions, not more: workers may not submit jobs.
    const denied = nextPermissionError(workers);
    workers.publish("jobs.trace_analysis", sc.encode("not allowed"));
    expect(await denied).toBe("publish jobs.trace_analysis");
  });

  it("rotating a key: the -next key logs in beside the old one; once the own key is replaced, the old key's connection is closed", async () => {
    const next = userNkeyFromBytes(randomBytes(32));
    await cluster.reloadAuth(clusterLogins("nkey", { hashes, publicKeys, nextPublicKeys: { "fluo-workers": next.publicKey } }));
    const old = await withSeed("fluo-workers");
    const rolled = await connect({ servers: cluster.servers, authenticator: nkeyAuthenticator(sc.encode(next.seed)), inboxPrefix: inboxOf("fluo-workers"), reconnect: false });
    open.push(rolled);
    await old.flush();
    expect(old.isClosed()).toBe(false);
    // Step 3 of the README: the -next seed becomes the identity's own seed.
    await cluster.reloadAuth(clusterLogins("nkey", { hashes, publicKeys: { ...publicKeys, "fluo-workers": next.publicKey }, nextPublicKeys: { "fluo-workers": next.publicKey } }));
    await old.closed();
    expect(old.isClosed()).toBe(true);
    await rolled.flush();
    expect(rolled.isClosed()).toBe(false);
    await expect(withSeed("fluo-workers")).rejects.toThrow(/authorization violation/i);
  });
});
