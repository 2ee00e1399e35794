// Local mode's bcrypt hashes, kept from one start to the next. Hashing every user's password (cost 11, about
// 150 ms each here) comes before the servers can start, and a restart's Raft elections only begin once they run
// (bench:local), so a restart reuses the hashes of unchanged passwords instead of spending a second on them.
// They are salted under a salt key kept beside the plaintext passwords (credentials/, mode 0600), so it guards
// nothing those do not already give away. A kept hash is used only if its salt is the one the key derives for the
// user's current password (keyedSalt: HMAC of key, user and password): a changed password, a new user or an
// edited file gets a fresh hash, never a stale one.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { BCRYPT_COST, hashPassword, keyedSalt, randomSaltKey, type PasswordHashes } from "../infra/passwordHash";
import { userSpecs } from "../infra/users";
import type { LocalPasswords } from "./credentials";
import type { StateLayout } from "./stateDir";

interface KeptHashes {
  readonly saltKey: string;
  readonly hashes: Readonly<Record<string, string>>;
}

function readKept(path: string): KeptHashes | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const kept = JSON.parse(readFileSync(path, "utf8")) as Partial<KeptHashes>;
    if (typeof kept.saltKey !== "string" || kept.saltKey.length === 0 || typeof kept.hashes !== "object" || kept.hashes === null) return undefined;
    return { saltKey: kept.saltKey, hashes: kept.hashes };
  } catch {
    return undefined;
  }
}

export interface HashOptions {
  /** bcrypt cost; default the cluster's (BCRYPT_COST). */
  readonly cost?: number;
  /** Called with the login name of each password that is hashed (not reused). */
  readonly onHash?: (user: string) => void;
}

/** bcrypt hashes of every user's password, reusing the last start's where the password is unchanged. */
export function localPasswordHashes(layout: StateLayout, passwords: LocalPasswords, options: HashOptions = {}): PasswordHashes {
  return localLoginHashes(layout, Object.fromEntries(userSpecs().map((s) => [s.name, passwords[s.name]])), options) as PasswordHashes;
}

/**
 * bcrypt hashes of `passwords` by login name (the users' own, and `<user>-next` while a user rotates), each salted
 * for its login name as the cluster's are, reusing the last start's where the password is unchanged. The file keeps
 * this start's logins only.
 */
export function localLoginHashes(layout: StateLayout, passwords: Readonly<Record<string, string>>, options: HashOptions = {}): Record<string, string> {
  const cost = options.cost ?? BCRYPT_COST;
  const kept = readKept(layout.bcryptHashes);
  const saltKey = kept?.saltKey ?? randomSaltKey();
  const hashes = Object.fromEntries(
    Object.entries(passwords).map(([login, password]) => {
      const old = kept?.hashes[login];
      // A bcrypt hash starts with its salt ("$2a$11$" + 22 characters), which here is derived from the password.
      if (typeof old === "string" && old.startsWith(keyedSalt(saltKey, login, password, cost))) return [login, old];
      options.onHash?.(login);
      return [login, hashPassword(login, password, saltKey, cost)];
    }),
  );
  writeFileSync(layout.bcryptHashes, `${JSON.stringify({ saltKey, hashes }, null, 2)}\n`, { mode: 0o600 });
  return hashes;
}
