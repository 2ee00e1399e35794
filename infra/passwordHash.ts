// bcrypt hashes for nats.conf that do not change when the password does not, and whose salt tells nothing about
// the password.
// A fresh random salt would give a new hash, so a new config, on every `pulumi up`. The salt is therefore
// derived, but from a per-stack secret salt key as well as the user and password: HMAC-SHA256(key, user, password).
// The key lives only in Pulumi state (a RandomBytes resource, secret), never in the cluster. Without it the salt
// visible in the hash is just random-looking bytes; the earlier HMAC(password, user) salt let anyone holding the
// Secret or a render test a password guess in microseconds instead of a bcrypt run (audit, issue 12).

import { createHmac, randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import { userSpecs, type UserName } from "./users";

// bcrypt's own base64 alphabet (not RFC 4648).
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const BCRYPT_COST = 11;
/** Bytes of a salt key; RandomBytes in Pulumi state and randomSaltKey() produce this many. */
export const SALT_KEY_BYTES = 32;

function bcryptBase64(bytes: Buffer, length: number): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += BCRYPT_ALPHABET[(value >> bits) & 63];
    }
  }
  if (bits > 0) out += BCRYPT_ALPHABET[(value << (6 - bits)) & 63];
  return out.slice(0, length);
}

/** The bcrypt salt string ("$2a$11$" + 22 characters) carrying the first 16 bytes of `bytes`. */
export function bcryptSalt(bytes: Buffer, cost: number = BCRYPT_COST): string {
  if (bytes.length < 16) throw new Error(`a bcrypt salt needs 16 bytes, got ${bytes.length}`);
  // 22 characters carry 132 bits; bcrypt uses the first 128, so the last character must encode zero low bits.
  const chars = bcryptBase64(bytes.subarray(0, 16), 22);
  const last = BCRYPT_ALPHABET[BCRYPT_ALPHABET.indexOf(chars[21]) & 0x30];
  return `$2a$${String(cost).padStart(2, "0")}$${chars.slice(0, 21)}${last}`;
}

/** A new salt key, for hashes that need not be stable beyond one process (local mode, renders). */
export function randomSaltKey(): string {
  return randomBytes(SALT_KEY_BYTES).toString("base64");
}

/** The salt for one user's password under a salt key: stable for the same three, unrelated otherwise. */
export function keyedSalt(saltKey: string, user: string, password: string, cost: number = BCRYPT_COST): string {
  if (saltKey.length === 0) throw new Error("the bcrypt salt key is empty");
  const digest = createHmac("sha256", saltKey).update(`fluo-queue/nats-user\0${user}\0${password}`).digest();
  return bcryptSalt(digest, cost);
}

export function hashPassword(user: string, password: string, saltKey: string, cost: number = BCRYPT_COST): string {
  if (password.length === 0) throw new Error(`the password of NATS user "${user}" is empty`);
  return bcrypt.hashSync(password, keyedSalt(saltKey, user, password, cost));
}

export function verifyPassword(password: string, hash: string): boolean {
  return bcrypt.compareSync(password, hash);
}

export type PasswordHashes = Readonly<Record<UserName, string>>;

/**
 * Stand-ins for the password hashes where the real ones are not known or must not be shown: the objects
 * other than the config Secret, and `npm run render` without --show-secrets. Not a bcrypt hash, so a
 * server started with them accepts no password.
 */
export const REDACTED_HASHES: PasswordHashes = Object.fromEntries(
  userSpecs().map((s) => [s.name, `<redacted: bcrypt hash of the ${s.name} password>`]),
) as PasswordHashes;

/**
 * Bcrypt hashes of the given passwords; a user without one gets the redacted stand-in. Salts come from `saltKey`;
 * without one, a fresh random key: the hashes then differ on every call, which is what a local start or a render
 * wants (only `pulumi up` needs them stable, and keeps its key in state).
 */
export function passwordHashes(passwords: Readonly<Record<string, string>> = {}, saltKey: string = randomSaltKey()): PasswordHashes {
  const known = new Set(userSpecs().map((s) => s.name));
  for (const user of Object.keys(passwords)) {
    if (!known.has(user as UserName)) throw new Error(`password given for unknown user "${user}" (${[...known].join(", ")})`);
  }
  return Object.fromEntries(
    userSpecs().map((s) => [s.name, passwords[s.name] ? hashPassword(s.name, passwords[s.name], saltKey) : REDACTED_HASHES[s.name]]),
  ) as PasswordHashes;
}
