// Local mode's credentials. Passwords and NKEY seeds are generated once (crypto random) and kept in the state
// directory, so a restart reuses them along with the data. Each user's credentials file is a nats CLI context
// (the JSON that `nats context save` writes), so `nats --context <file>` works as that user, and our CLIs read
// the same files (lib/natsContext.ts). Which contexts exist follows the authentication mode of the start:
//   password       <user>.json: url, user, password, inbox_prefix
//   nkey           <user>.json: url, nkey (the path of <user>.seed), inbox_prefix; no user (see writeContextFiles)
//   password+nkey  both: <user>.json with the password, <user>.nkey.json with the seed
// and with --tls every context carries `ca`. A user in the stack's rotatingUsers also has the second login of a
// rotation, `<user>-next` (README "Password rotation"): its own password (in passwords.json under `<user>-next`)
// and seed (<user>-next.seed), and the contexts <user>-next.json / <user>-next.nkey.json, same inbox prefix.

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isUserSeed, NKEY_SEED_BYTES, userNkeyFromBytes, userNkeyFromSeed, type UserNkey } from "../infra/nkeys";
import { usesNkeys, usesPasswords, type Authentication } from "../infra/stackConfig";
import { nextLoginOf, userSpecs, type UserName } from "../infra/users";
import type { StateLayout } from "./stateDir";

export type LocalPasswords = Readonly<Record<UserName, string>>;
/** Every user's NKEY pair; the seed is also in the user's seed file. */
export type LocalSeeds = Readonly<Record<UserName, UserNkey>>;
/** The `<user>-next` credentials of the users rotating, by the user whose second login they are. */
export type NextCredentials<T> = Readonly<Partial<Record<UserName, T>>>;

/** The fields of a nats CLI context that local mode fills in. */
interface ContextCommon {
  readonly description: string;
  /** Comma-separated server URLs, as the nats CLI takes them. */
  readonly url: string;
  /** Without it, replies go to _INBOX.> and the user's permissions deny them. */
  readonly inbox_prefix: string;
  /**
   * The CA file (absolute path) the servers' certificates are signed by, when they require TLS. natscli
   * (jsm.go natscontext, v0.5.0) reads it as a plain file path (`~` expanded, relative to its working directory
   * otherwise), so local mode writes it absolute.
   */
  readonly ca?: string;
}

/** A password context, or an NKEY context whose `nkey` is the absolute path of the seed file (natscli reads a file). */
export type NatsContextFile = ContextCommon & ({ readonly user: string; readonly password: string } | { readonly nkey: string });

/** How one context logs in: a password, or the seed file of the user's NKEY. */
export type ContextLogin = { readonly password: string } | { readonly seedFile: string };

function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * The stored passwords of `logins` (login names); one without a stored password gets a new random one. The file
 * keeps the own logins and every `<user>-next` password it held, so the own logins' rewrite never drops a rotating
 * user's; forgetNextCredentials alone removes those of users that left rotatingUsers.
 */
function loadOrCreateLoginPasswords(layout: StateLayout, logins: readonly string[]): Record<string, string> {
  const stored: Record<string, unknown> = existsSync(layout.passwords)
    ? (JSON.parse(readFileSync(layout.passwords, "utf8")) as Record<string, unknown>)
    : {};
  const usable = (login: string): string | undefined => {
    const old = stored[login];
    return typeof old === "string" && old.length > 0 ? old : undefined;
  };
  const passwords = Object.fromEntries(logins.map((login) => [login, usable(login) ?? newPassword()]));
  const known = userSpecs().flatMap((s) => [s.name, nextLoginOf(s.name)]);
  const kept = Object.fromEntries(known.flatMap((login) => (usable(login) === undefined ? [] : [[login, usable(login)!] as const])));
  writeFileSync(layout.passwords, `${JSON.stringify({ ...kept, ...passwords }, null, 2)}\n`, { mode: 0o600 });
  return passwords;
}

/** The stored passwords; users without one (first run, or a user added since) get a new random one. */
export function loadOrCreatePasswords(layout: StateLayout): LocalPasswords {
  return loadOrCreateLoginPasswords(layout, userSpecs().map((s) => s.name)) as Record<UserName, string>;
}

/** The `<user>-next` passwords of the users rotating, made on the first start that lists the user and kept. */
export function loadOrCreateNextPasswords(layout: StateLayout, rotating: readonly UserName[]): NextCredentials<string> {
  const passwords = loadOrCreateLoginPasswords(layout, rotating.map(nextLoginOf));
  return Object.fromEntries(rotating.map((user) => [user, passwords[nextLoginOf(user)]]));
}

/**
 * Deletes the `<user>-next` password and seed of every user not in `rotating`, and names those users. The cluster
 * deletes a generated -next credential when its user leaves rotatingUsers, so a later rotation gets a new one;
 * a kept one would give the next rotation the credential step 3 made the user's own, and nothing would rotate.
 */
export function forgetNextCredentials(layout: StateLayout, rotating: readonly UserName[]): UserName[] {
  const stored: Record<string, unknown> = existsSync(layout.passwords)
    ? (JSON.parse(readFileSync(layout.passwords, "utf8")) as Record<string, unknown>)
    : {};
  const gone = userSpecs()
    .map((s) => s.name)
    .filter((user) => !rotating.includes(user) && (nextLoginOf(user) in stored || existsSync(layout.seedFile(nextLoginOf(user)))));
  if (gone.length === 0) return [];
  const kept = Object.fromEntries(Object.entries(stored).filter(([login]) => !gone.some((user) => login === nextLoginOf(user))));
  if (existsSync(layout.passwords)) writeFileSync(layout.passwords, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
  for (const user of gone) rmSync(layout.seedFile(nextLoginOf(user)), { force: true });
  return gone;
}

function storedSeed(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const seed = readFileSync(path, "utf8").trim();
  return isUserSeed(seed) ? seed : undefined;
}

/**
 * Every user's NKEY from its seed file (<user>.seed, mode 0600). A user without a usable one (first NKEY start,
 * a user added since, an edited file) gets a new seed from 32 random bytes, encoded as infra/nkeys.ts does for
 * `pulumi up`; a kept seed file is not rewritten, so a restart leaves it byte for byte as it was.
 */
export function loadOrCreateSeeds(layout: StateLayout): LocalSeeds {
  return Object.fromEntries(userSpecs().map((s) => [s.name, loadOrCreateSeed(layout.seedFile(s.name))])) as Record<UserName, UserNkey>;
}

/** The `<user>-next` NKEYs of the users rotating, each in a seed file of its own (<user>-next.seed), kept as above. */
export function loadOrCreateNextSeeds(layout: StateLayout, rotating: readonly UserName[]): NextCredentials<UserNkey> {
  return Object.fromEntries(rotating.map((user) => [user, loadOrCreateSeed(layout.seedFile(nextLoginOf(user)))]));
}

function loadOrCreateSeed(path: string): UserNkey {
  const kept = storedSeed(path);
  if (kept !== undefined) {
    chmodSync(path, 0o600);
    return userNkeyFromSeed(kept);
  }
  const made = userNkeyFromBytes(randomBytes(NKEY_SEED_BYTES));
  writeFileSync(path, `${made.seed}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return made;
}

/**
 * The context of `user`'s login `loginName`: the user's own, or its `<user>-next` login while it rotates, which
 * has the user's permissions and so its inbox prefix.
 */
export function contextFile(user: UserName, servers: readonly string[], login: ContextLogin, caFile?: string, loginName: string = user): NatsContextFile {
  const spec = userSpecs().find((s) => s.name === user);
  if (!spec) throw new Error(`unknown NATS user "${user}"`);
  const rotation = loginName === user ? "" : `second login of ${user} in a rotation: `;
  const common = {
    url: servers.join(","),
    inbox_prefix: spec.inboxPrefix,
    ...(caFile ? { ca: caFile } : {}),
  };
  if ("password" in login) return { description: `fluo-queue local: ${rotation ? `${loginName}, ${rotation}` : ""}${spec.description}`, ...common, user: loginName, password: login.password };
  // No "user" beside the key: the server refuses an NKEY login that also names a user (natscli v0.5.0 sends it).
  // The description says whose key it is.
  return { description: `fluo-queue local: ${loginName} (NKEY): ${rotation}${spec.description}`, ...common, nkey: login.seedFile };
}

/** The logins of one start: the mode, and the passwords when it uses them (NKEY contexts name the seed files). */
export interface LocalLogins {
  readonly authentication: Authentication;
  readonly passwords?: LocalPasswords;
  /** The stack's rotatingUsers: each has a `<user>-next` login too. */
  readonly rotating?: readonly UserName[];
  /** The `<user>-next` passwords of `rotating`, when the mode uses passwords. */
  readonly nextPasswords?: NextCredentials<string>;
}

/**
 * The context files written, by user: `contexts` are <user>.json; `nkeyContexts` exist with password+nkey only;
 * `nextContexts` / `nextNkeyContexts` are the same for the `<user>-next` logins of the users rotating (if any).
 */
export interface LocalContexts {
  readonly contexts: Record<UserName, string>;
  readonly nkeyContexts?: Record<UserName, string>;
  readonly nextContexts?: Partial<Record<UserName, string>>;
  readonly nextNkeyContexts?: Partial<Record<UserName, string>>;
}

function writeContext(path: string, context: NatsContextFile): void {
  writeFileSync(path, `${JSON.stringify(context, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Writes every user's context files for the mode (mode 0600), with `ca` when the servers require TLS, and removes
 * the contexts this start has no login for: the NKEY contexts of an earlier password+nkey start, and the -next
 * contexts of a user no longer in rotatingUsers. Either would look valid and be refused.
 */
export function writeContextFiles(layout: StateLayout, servers: readonly string[], logins: LocalLogins, caFile?: string): LocalContexts {
  const mode = logins.authentication;
  const rotating = new Set(logins.rotating ?? []);
  const passwords = usesPasswords(mode) ? logins.passwords : undefined;
  if (usesPasswords(mode) && !passwords) throw new Error(`authentication ${mode} needs the passwords`);
  const missingNext = usesPasswords(mode) ? [...rotating].find((u) => logins.nextPasswords?.[u] === undefined) : undefined;
  if (missingNext) throw new Error(`authentication ${mode}: no password for ${nextLoginOf(missingNext)} (loadOrCreateNextPasswords makes them)`);
  const seedFiles = usesNkeys(mode) ? [...userSpecs().map((s) => layout.seedFile(s.name)), ...[...rotating].map((u) => layout.seedFile(nextLoginOf(u)))] : [];
  const missingSeed = seedFiles.find((file) => !existsSync(file));
  if (missingSeed) throw new Error(`authentication ${mode}: no seed file ${missingSeed} (loadOrCreateSeeds / loadOrCreateNextSeeds make them)`);
  const contexts = {} as Record<UserName, string>;
  const nkeyContexts = {} as Record<UserName, string>;
  const nextContexts: Partial<Record<UserName, string>> = {};
  const nextNkeyContexts: Partial<Record<UserName, string>> = {};
  /** Writes or removes the contexts of one login; their paths, when written. */
  const loginContexts = (user: UserName, login: string, password: string | undefined, present: boolean): { own?: string; nkey?: string } => {
    const path = layout.contextFile(login);
    const nkeyPath = layout.nkeyContextFile(login);
    const nkeyLogin = { seedFile: layout.seedFile(login) };
    if (!present) {
      rmSync(path, { force: true });
      rmSync(nkeyPath, { force: true });
      return {};
    }
    writeContext(path, contextFile(user, servers, password !== undefined ? { password } : nkeyLogin, caFile, login));
    if (mode !== "password+nkey") {
      rmSync(nkeyPath, { force: true });
      return { own: path };
    }
    writeContext(nkeyPath, contextFile(user, servers, nkeyLogin, caFile, login));
    return { own: path, nkey: nkeyPath };
  };
  for (const { name } of userSpecs()) {
    const own = loginContexts(name, name, passwords?.[name], true);
    contexts[name] = own.own!;
    if (own.nkey) nkeyContexts[name] = own.nkey;
    const next = loginContexts(name, nextLoginOf(name), passwords ? logins.nextPasswords?.[name] : undefined, rotating.has(name));
    if (next.own) nextContexts[name] = next.own;
    if (next.nkey) nextNkeyContexts[name] = next.nkey;
  }
  return {
    contexts,
    ...(mode === "password+nkey" ? { nkeyContexts } : {}),
    ...(rotating.size > 0 ? { nextContexts, ...(mode === "password+nkey" ? { nextNkeyContexts } : {}) } : {}),
  };
}
