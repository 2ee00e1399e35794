import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../infra/passwordHash";
import { userSpecs, type UserName } from "../infra/users";
import { localLoginHashes, localPasswordHashes } from "./passwordHashCache";
import { prepareStateDir, stateLayout, type StateLayout } from "./stateDir";

// Cost 4: the same bcrypt, without a second of hashing per test.
const COST = 4;
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function freshLayout(): StateLayout {
  const root = mkdtempSync(join(tmpdir(), "fluo-hash-cache-"));
  roots.push(root);
  const layout = stateLayout(join(root, "state"));
  prepareStateDir(layout);
  return layout;
}

const passwords = Object.fromEntries(userSpecs().map((s) => [s.name, `pw-${s.name}`])) as Record<UserName, string>;

function hashed(layout: StateLayout, pw: Record<UserName, string>): { hashes: Record<string, string>; ran: string[] } {
  const ran: string[] = [];
  const hashes = localPasswordHashes(layout, pw, { cost: COST, onHash: (user) => ran.push(user) });
  return { hashes, ran };
}

describe("local mode's bcrypt hashes between runs", () => {
  it("a restart reuses every hash of an unchanged password: no bcrypt run, the same hashes, each verifying", () => {
    const layout = freshLayout();
    const first = hashed(layout, passwords);
    expect(first.ran).toHaveLength(userSpecs().length);
    const second = hashed(layout, passwords);
    expect(second.ran).toEqual([]);
    expect(second.hashes).toEqual(first.hashes);
    for (const s of userSpecs()) expect(verifyPassword(passwords[s.name], second.hashes[s.name])).toBe(true);
  });

  it("hashes a changed password afresh and reuses the others", () => {
    const layout = freshLayout();
    const first = hashed(layout, passwords);
    const changed = { ...passwords, "fluo-bff": "a new one" };
    const second = hashed(layout, changed);
    expect(second.ran).toEqual(["fluo-bff"]);
    expect(verifyPassword("a new one", second.hashes["fluo-bff"])).toBe(true);
    expect(second.hashes["fluo-workers"]).toBe(first.hashes["fluo-workers"]);
  });

  it("never uses a cached hash that was not made for the current password under the kept key", () => {
    const layout = freshLayout();
    hashed(layout, passwords);
    const file = join(layout.credentials, "bcrypt-hashes.json");
    const cache = JSON.parse(readFileSync(file, "utf8")) as { saltKey: string; hashes: Record<string, string> };
    // Another password's hash, and one salted under another key.
    cache.hashes["fluo-bff"] = hashPassword("fluo-bff", "something else", cache.saltKey, COST);
    cache.hashes["fluo-backend"] = hashPassword("fluo-backend", passwords["fluo-backend"], "another key", COST);
    writeFileSync(file, JSON.stringify(cache));
    const again = hashed(layout, passwords);
    expect(again.ran.sort()).toEqual(["fluo-backend", "fluo-bff"]);
    expect(verifyPassword(passwords["fluo-bff"], again.hashes["fluo-bff"])).toBe(true);
  });

  it("keeps key and hashes in the credentials directory, readable by the owner only; an unreadable file is rebuilt", () => {
    const layout = freshLayout();
    hashed(layout, passwords);
    const file = join(layout.credentials, "bcrypt-hashes.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, "not json");
    const again = hashed(layout, passwords);
    expect(again.ran).toHaveLength(userSpecs().length);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("hashes a rotating user's <user>-next login under its own login name and reuses it on the next start", () => {
    const layout = freshLayout();
    const logins = { ...passwords, "fluo-workers-next": "the next one" };
    const ran: string[] = [];
    const first = localLoginHashes(layout, logins, { cost: COST, onHash: (login) => ran.push(login) });
    expect(ran).toContain("fluo-workers-next");
    expect(verifyPassword("the next one", first["fluo-workers-next"])).toBe(true);
    // Salted for its login name, as the cluster's nats.conf hashes it (infra/natsCluster.ts).
    const cache = JSON.parse(readFileSync(join(layout.credentials, "bcrypt-hashes.json"), "utf8")) as { saltKey: string };
    expect(first["fluo-workers-next"]).toBe(hashPassword("fluo-workers-next", "the next one", cache.saltKey, COST));
    ran.length = 0;
    expect(localLoginHashes(layout, logins, { cost: COST, onHash: (login) => ran.push(login) })).toEqual(first);
    expect(ran).toEqual([]);
  });
});
