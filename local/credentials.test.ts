// Local mode's credentials without a server: the seed store (made once, kept byte for byte, mode 0600, an unusable
// file replaced) and the context files each authentication mode writes, including what a switch leaves behind,
// and the `<user>-next` logins of the stack's rotatingUsers (credentials and contexts only while rotating).

import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isUserSeed, userNkeyFromSeed } from "../infra/nkeys";
import type { Authentication } from "../infra/stackConfig";
import { userSpecs, type UserName } from "../infra/users";
import { forgetNextCredentials, loadOrCreateNextPasswords, loadOrCreateNextSeeds, loadOrCreatePasswords, loadOrCreateSeeds, writeContextFiles } from "./credentials";
import { prepareStateDir, stateLayout, type StateLayout } from "./stateDir";

const users = userSpecs().map((u) => u.name);
const servers = ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"];
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

function freshLayout(): StateLayout {
  const layout = stateLayout(join(mkdtempSync(join(tmpdir(), "fluo-credentials-")), "state"));
  prepareStateDir(layout);
  return layout;
}

describe("local NKEY seeds", () => {
  it("makes one user seed per identity, mode 0600, whose public key is the seed's", () => {
    const layout = freshLayout();
    const seeds = loadOrCreateSeeds(layout);
    expect(Object.keys(seeds).sort()).toEqual([...users].sort());
    for (const user of users) {
      const file = layout.seedFile(user);
      expect(statSync(file).mode & 0o777, user).toBe(0o600);
      expect(readFileSync(file, "utf8")).toBe(`${seeds[user].seed}\n`);
      expect(isUserSeed(seeds[user].seed)).toBe(true);
      expect(seeds[user].publicKey).toBe(userNkeyFromSeed(seeds[user].seed).publicKey);
      expect(seeds[user].publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    }
    expect(new Set(users.map((u) => seeds[u].seed)).size).toBe(users.length);
  });

  it("reuses the kept seeds on the next start, leaving the files byte for byte as they were", () => {
    const layout = freshLayout();
    const first = loadOrCreateSeeds(layout);
    const bytes = users.map((u) => readFileSync(layout.seedFile(u)));
    const mtimes = users.map((u) => statSync(layout.seedFile(u)).mtimeMs);
    const second = loadOrCreateSeeds(layout);
    expect(second).toEqual(first);
    expect(users.map((u) => readFileSync(layout.seedFile(u)))).toEqual(bytes);
    expect(users.map((u) => statSync(layout.seedFile(u)).mtimeMs)).toEqual(mtimes);
  });

  it("replaces a seed file that holds no user seed, and keeps the others", () => {
    const layout = freshLayout();
    const first = loadOrCreateSeeds(layout);
    writeFileSync(layout.seedFile("fluo-workers"), "not a seed\n");
    const second = loadOrCreateSeeds(layout);
    expect(isUserSeed(second["fluo-workers"].seed)).toBe(true);
    expect(second["fluo-workers"].seed).not.toBe(first["fluo-workers"].seed);
    expect(second["fluo-bff"]).toEqual(first["fluo-bff"]);
  });
});

describe("local context files per authentication mode", () => {
  const write = (layout: StateLayout, authentication: Authentication, caFile?: string) =>
    writeContextFiles(layout, servers, { authentication, passwords: loadOrCreatePasswords(layout) }, caFile);

  it("password: <user>.json with user and password, no nkey and no NKEY context", () => {
    const layout = freshLayout();
    const written = write(layout, "password");
    expect(written.nkeyContexts).toBeUndefined();
    const passwords = readJson(layout.passwords);
    for (const user of users) {
      expect(written.contexts[user]).toBe(layout.contextFile(user));
      const context = readJson(layout.contextFile(user));
      expect(context, user).toMatchObject({ url: servers.join(","), user, password: passwords[user] });
      expect(context.nkey).toBeUndefined();
      expect(existsSync(layout.nkeyContextFile(user))).toBe(false);
    }
  });

  it("nkey: <user>.json names the seed file and no user or password (the server refuses an NKEY login naming a user)", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    const written = write(layout, "nkey");
    for (const user of users) {
      const context = readJson(written.contexts[user]);
      expect(context.nkey, user).toBe(layout.seedFile(user));
      expect(context.user).toBeUndefined();
      expect(context.password).toBeUndefined();
      expect(context.inbox_prefix).toBe(userSpecs().find((u) => u.name === user)!.inboxPrefix);
      expect(statSync(written.contexts[user]).mode & 0o777).toBe(0o600);
    }
  });

  it("nkey without seed files is refused, naming the missing file", () => {
    const layout = freshLayout();
    expect(() => write(layout, "nkey")).toThrow(`no seed file ${layout.seedFile("fluo-bff")}`);
  });

  it("password+nkey: the password contexts and, beside them, <user>.nkey.json; both carry the CA with TLS", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    const written = write(layout, "password+nkey", "/state/tls/ca.crt");
    for (const user of users) {
      expect(readJson(written.contexts[user])).toMatchObject({ user, ca: "/state/tls/ca.crt" });
      expect(written.nkeyContexts?.[user]).toBe(layout.nkeyContextFile(user));
      expect(readJson(layout.nkeyContextFile(user))).toMatchObject({ nkey: layout.seedFile(user), ca: "/state/tls/ca.crt" });
      expect(readJson(layout.nkeyContextFile(user)).user).toBeUndefined();
    }
  });

  it("a switch rewrites every context for the new mode and removes the NKEY contexts the new mode has none of", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    write(layout, "password+nkey");
    write(layout, "nkey");
    for (const user of users) {
      expect(existsSync(layout.nkeyContextFile(user)), user).toBe(false);
      expect(readJson(layout.contextFile(user)).password).toBeUndefined();
    }
    write(layout, "password+nkey");
    write(layout, "password");
    for (const user of users) {
      expect(existsSync(layout.nkeyContextFile(user)), user).toBe(false);
      expect(readJson(layout.contextFile(user)).nkey).toBeUndefined();
    }
    // The seeds stay for the next NKEY start, as the passwords stay while NKEYs run.
    for (const user of users) expect(existsSync(layout.seedFile(user))).toBe(true);
  });
});

describe("local <user>-next logins of the stack's rotatingUsers", () => {
  const rotating = ["fluo-workers"] as const;

  it("a -next password is made once, kept beside the own passwords in passwords.json, and reused", () => {
    const layout = freshLayout();
    const own = loadOrCreatePasswords(layout);
    const next = loadOrCreateNextPasswords(layout, rotating);
    expect(Object.keys(next)).toEqual(["fluo-workers"]);
    expect(next["fluo-workers"]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(next["fluo-workers"]).not.toBe(own["fluo-workers"]);
    expect(readJson(layout.passwords)["fluo-workers-next"]).toBe(next["fluo-workers"]);
    // The next start reads the own passwords first: the -next one survives that rewrite and is reused.
    expect(loadOrCreatePasswords(layout)).toEqual(own);
    expect(loadOrCreateNextPasswords(layout, rotating)).toEqual(next);
    expect(statSync(layout.passwords).mode & 0o777).toBe(0o600);
  });

  it("a user no longer rotating loses its -next password and seed, as the cluster deletes them, so a new rotation gets new ones", () => {
    const layout = freshLayout();
    const own = loadOrCreatePasswords(layout);
    const next = loadOrCreateNextPasswords(layout, rotating);
    const nextSeed = loadOrCreateNextSeeds(layout, rotating)["fluo-workers"]!;
    // Still rotating: nothing forgotten.
    expect(forgetNextCredentials(layout, rotating)).toEqual([]);
    expect(readJson(layout.passwords)["fluo-workers-next"]).toBe(next["fluo-workers"]);
    expect(forgetNextCredentials(layout, [])).toEqual(["fluo-workers"]);
    expect(readJson(layout.passwords)["fluo-workers-next"]).toBeUndefined();
    expect(existsSync(layout.seedFile("fluo-workers-next"))).toBe(false);
    expect(loadOrCreatePasswords(layout)).toEqual(own);
    expect(statSync(layout.passwords).mode & 0o777).toBe(0o600);
    // Listed again (after step 3 made the -next password the own one): a fresh -next credential, not the own.
    expect(loadOrCreateNextPasswords(layout, rotating)["fluo-workers"]).not.toBe(next["fluo-workers"]);
    expect(loadOrCreateNextSeeds(layout, rotating)["fluo-workers"]!.seed).not.toBe(nextSeed.seed);
    expect(forgetNextCredentials(stateLayout(join(mkdtempSync(join(tmpdir(), "fluo-credentials-")), "empty")), [])).toEqual([]);
  });

  it("a -next seed is a seed file of its own, <user>-next.seed (mode 0600), unlike the own one, kept byte for byte", () => {
    const layout = freshLayout();
    const own = loadOrCreateSeeds(layout);
    const next = loadOrCreateNextSeeds(layout, rotating);
    expect(Object.keys(next)).toEqual(["fluo-workers"]);
    const file = layout.seedFile("fluo-workers-next");
    expect(file.endsWith("/credentials/fluo-workers-next.seed")).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(`${next["fluo-workers"]!.seed}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(next["fluo-workers"]!.publicKey).not.toBe(own["fluo-workers"].publicKey);
    const bytes = readFileSync(file);
    expect(loadOrCreateNextSeeds(layout, rotating)).toEqual(next);
    expect(readFileSync(file)).toEqual(bytes);
    expect(loadOrCreateNextSeeds(layout, [])).toEqual({});
  });

  const write = (layout: StateLayout, authentication: Authentication, users: readonly UserName[], caFile?: string) =>
    writeContextFiles(
      layout,
      servers,
      { authentication, passwords: loadOrCreatePasswords(layout), nextPasswords: loadOrCreateNextPasswords(layout, users), rotating: users },
      caFile,
    );

  it("password: <user>-next.json logs in as user <user>-next with its password and the user's own inbox prefix", () => {
    const layout = freshLayout();
    const written = write(layout, "password", rotating);
    const path = layout.contextFile("fluo-workers-next");
    expect(written.nextContexts).toEqual({ "fluo-workers": path });
    expect(written.nextNkeyContexts).toBeUndefined();
    expect(readJson(path)).toMatchObject({
      url: servers.join(","),
      user: "fluo-workers-next",
      password: readJson(layout.passwords)["fluo-workers-next"],
      inbox_prefix: userSpecs().find((u) => u.name === "fluo-workers")!.inboxPrefix,
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    for (const user of users.filter((u) => u !== "fluo-workers")) expect(existsSync(layout.contextFile(`${user}-next`)), user).toBe(false);
  });

  it("nkey: <user>-next.json names <user>-next.seed and no user; password+nkey writes both -next contexts, with the CA", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    loadOrCreateNextSeeds(layout, rotating);
    write(layout, "nkey", rotating);
    const context = readJson(layout.contextFile("fluo-workers-next"));
    expect(context).toMatchObject({ nkey: layout.seedFile("fluo-workers-next"), inbox_prefix: "_INBOX_FLUO_WORKERS" });
    expect(context.user).toBeUndefined();
    const both = write(layout, "password+nkey", rotating, "/state/tls/ca.crt");
    expect(readJson(layout.contextFile("fluo-workers-next"))).toMatchObject({ user: "fluo-workers-next", ca: "/state/tls/ca.crt" });
    expect(both.nextNkeyContexts).toEqual({ "fluo-workers": layout.nkeyContextFile("fluo-workers-next") });
    expect(readJson(layout.nkeyContextFile("fluo-workers-next"))).toMatchObject({ nkey: layout.seedFile("fluo-workers-next"), ca: "/state/tls/ca.crt" });
  });

  it("nkey without the -next seed file is refused, naming it", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    expect(() => write(layout, "nkey", rotating)).toThrow(`no seed file ${layout.seedFile("fluo-workers-next")}`);
  });

  it("a user removed from rotatingUsers loses its -next contexts (both kinds); its seed file stays", () => {
    const layout = freshLayout();
    loadOrCreateSeeds(layout);
    loadOrCreateNextSeeds(layout, rotating);
    write(layout, "password+nkey", rotating);
    const written = write(layout, "password+nkey", []);
    expect(written.nextContexts).toBeUndefined();
    expect(existsSync(layout.contextFile("fluo-workers-next"))).toBe(false);
    expect(existsSync(layout.nkeyContextFile("fluo-workers-next"))).toBe(false);
    expect(existsSync(layout.seedFile("fluo-workers-next"))).toBe(true);
  });
});
