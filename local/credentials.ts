// Local mode's credentials. Passwords and NKEY seeds are generated once (crypto random) and kept in the state
// directory, so a restart reuses them along with the data. Each user's credentials file is a nats CLI context
// (the JSON that `nats context save` writes), so `nats --context <file>` works as that user, and our CLIs read
// the same files (lib/natsContext.ts). Which contexts exist follows the authentication mode of the start:
//   password       <user>.json: url, user, password, inbox_prefix
//   nkey           <user>.json: url, nkey (the path of <user>.seed), inbox_prefix; no user (see writeContextFiles)
//   password+nkey  both: <user>.json with the password, <user>.nkey.json with the seed
// and with --tls every context carries `ca`.

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isUserSeed, NKEY_SEED_BYTES, userNkeyFromBytes, userNkeyFromSeed, type UserNkey } from "../infra/nkeys";
import { usesNkeys, usesPasswords, type Authentication } from "../infra/stackConfig";
import { userSpecs, type UserName } from "../infra/users";
import type { StateLayout } from "./stateDir";

export type LocalPasswords = Readonly<Record<UserName, string>>;
/** Every user's NKEY pair; the seed is also in the user's seed file. */
export type LocalSeeds = Readonly<Record<UserName, UserNkey>>;

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

/** The stored passwords; users without one (first run, or a user added since) get a new random one. */
export function loadOrCreatePasswords(layout: StateLayout): LocalPasswords {
  const stored: Record<string, unknown> = existsSync(layout.passwords)
    ? (JSON.parse(readFileSync(layout.passwords, "utf8")) as Record<string, unknown>)
    : {};
  const passwords = Object.fromEntries(
    userSpecs().map((s) => {
      const old = stored[s.name];
      return [s.name, typeof old === "string" && old.length > 0 ? old : newPassword()];
    }),
  ) as Record<UserName, string>;
  writeFileSync(layout.passwords, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600 });
  return passwords;
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
  return Object.fromEntries(
    userSpecs().map((s) => {
      const path = layout.seedFile(s.name);
      const kept = storedSeed(path);
      if (kept !== undefined) {
        chmodSync(path, 0o600);
        return [s.name, userNkeyFromSeed(kept)];
      }
      const made = userNkeyFromBytes(randomBytes(NKEY_SEED_BYTES));
      writeFileSync(path, `${made.seed}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
      return [s.name, made];
    }),
  ) as Record<UserName, UserNkey>;
}

export function contextFile(user: UserName, servers: readonly string[], login: ContextLogin, caFile?: string): NatsContextFile {
  const spec = userSpecs().find((s) => s.name === user);
  if (!spec) throw new Error(`unknown NATS user "${user}"`);
  const common = {
    url: servers.join(","),
    inbox_prefix: spec.inboxPrefix,
    ...(caFile ? { ca: caFile } : {}),
  };
  if ("password" in login) return { description: `fluo-queue local: ${spec.description}`, ...common, user, password: login.password };
  // No "user" beside the key: the server refuses an NKEY login that also names a user (natscli v0.5.0 sends it).
  // The description says whose key it is.
  return { description: `fluo-queue local: ${user} (NKEY): ${spec.description}`, ...common, nkey: login.seedFile };
}

/** The logins of one start: the mode, and the passwords when it uses them (NKEY contexts name the seed files). */
export interface LocalLogins {
  readonly authentication: Authentication;
  readonly passwords?: LocalPasswords;
}

/** The context files written, by user: `contexts` are <user>.json; `nkeyContexts` exist with password+nkey only. */
export interface LocalContexts {
  readonly contexts: Record<UserName, string>;
  readonly nkeyContexts?: Record<UserName, string>;
}

function writeContext(path: string, context: NatsContextFile): void {
  writeFileSync(path, `${JSON.stringify(context, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Writes every user's context files for the mode (mode 0600), with `ca` when the servers require TLS, and removes
 * the NKEY contexts of an earlier password+nkey start that this mode does not have: a context left from another
 * mode would look valid and be refused.
 */
export function writeContextFiles(layout: StateLayout, servers: readonly string[], logins: LocalLogins, caFile?: string): LocalContexts {
  const mode = logins.authentication;
  const passwords = usesPasswords(mode) ? logins.passwords : undefined;
  if (usesPasswords(mode) && !passwords) throw new Error(`authentication ${mode} needs the passwords`);
  const missingSeed = usesNkeys(mode) ? userSpecs().find((s) => !existsSync(layout.seedFile(s.name))) : undefined;
  if (missingSeed) throw new Error(`authentication ${mode}: no seed file ${layout.seedFile(missingSeed.name)} (loadOrCreateSeeds makes them)`);
  const contexts = {} as Record<UserName, string>;
  const nkeyContexts = {} as Record<UserName, string>;
  for (const { name } of userSpecs()) {
    const nkeyLogin = { seedFile: layout.seedFile(name) };
    const path = layout.contextFile(name);
    writeContext(path, contextFile(name, servers, passwords ? { password: passwords[name] } : nkeyLogin, caFile));
    contexts[name] = path;
    const nkeyPath = layout.nkeyContextFile(name);
    if (mode === "password+nkey") {
      writeContext(nkeyPath, contextFile(name, servers, nkeyLogin, caFile));
      nkeyContexts[name] = nkeyPath;
    } else {
      rmSync(nkeyPath, { force: true });
    }
  }
  return mode === "password+nkey" ? { contexts, nkeyContexts } : { contexts };
}
