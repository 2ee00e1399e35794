// bcrypt hashes for nats.conf that do not change when the password does not.
// A random salt would give a new hash, so a new config and a pod restart, on every `pulumi up`. The salt is
// derived from the user and the password with HMAC-SHA256: same password, same hash; a different password or user,
// an unrelated salt. The password itself stays a Pulumi secret; only the hash reaches the cluster.

import { createHmac } from "node:crypto";
import bcrypt from "bcryptjs";
import { userSpecs, type UserName } from "./users";

// bcrypt's own base64 alphabet (not RFC 4648).
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const BCRYPT_COST = 11;

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

/** The deterministic salt string ("$2a$11$" + 22 characters) for one user's password. */
export function derivedSalt(user: string, password: string, cost: number = BCRYPT_COST): string {
  const digest = createHmac("sha256", password).update(`fluo-queue/nats-user/${user}`).digest();
  // 22 characters carry 132 bits; bcrypt uses the first 128, so the last character must encode zero low bits.
  const chars = bcryptBase64(digest.subarray(0, 16), 22);
  const last = BCRYPT_ALPHABET[BCRYPT_ALPHABET.indexOf(chars[21]) & 0x30];
  return `$2a$${String(cost).padStart(2, "0")}$${chars.slice(0, 21)}${last}`;
}

export function hashPassword(user: string, password: string, cost: number = BCRYPT_COST): string {
  if (password.length === 0) throw new Error(`the password of NATS user "${user}" is empty`);
  return bcrypt.hashSync(password, derivedSalt(user, password, cost));
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

/** Bcrypt hashes of the given passwords; a user without one gets the redacted stand-in. */
export function passwordHashes(passwords: Readonly<Record<string, string>> = {}): PasswordHashes {
  const known = new Set(userSpecs().map((s) => s.name));
  for (const user of Object.keys(passwords)) {
    if (!known.has(user as UserName)) throw new Error(`password given for unknown user "${user}" (${[...known].join(", ")})`);
  }
  return Object.fromEntries(
    userSpecs().map((s) => [s.name, passwords[s.name] ? hashPassword(s.name, passwords[s.name]) : REDACTED_HASHES[s.name]]),
  ) as PasswordHashes;
}
