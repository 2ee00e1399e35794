// Local mode's credentials without a server: the seed store (made once, kept byte for byte, mode 0600, an unusable
// file replaced) and the context files each authentication mode writes, including what a switch leaves behind.

import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isUserSeed, userNkeyFromSeed } from "../infra/nkeys";
import type { Authentication } from "../infra/stackConfig";
import { userSpecs } from "../infra/users";
import { loadOrCreatePasswords, loadOrCreateSeeds, writeContextFiles } from "./credentials";
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
