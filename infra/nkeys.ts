// NATS user NKEYs from raw bytes: the seed a client signs with ("SU...") and the public key nats.conf holds
// ("U..."). The encoding is the NATS one (github.com/nats-io/nkeys strkey.go): base32 without padding of
// prefix byte(s) + payload + CRC-16/XMODEM of both, little endian. A seed's first byte is the seed prefix
// (18 << 3) with the role's top bits, its second byte the role's low bits; a user's role byte is 20 << 3.
// The ed25519 public key comes from node:crypto, so `pulumi up` needs nothing beyond Node to derive it;
// infra/nkeys.test.ts checks both against nkeys.js and a vector printed by natscli.

import { createPrivateKey, createPublicKey } from "node:crypto";

/** Bytes of a raw ed25519 seed: what RandomBytes in state or a random source must provide. */
export const NKEY_SEED_BYTES = 32;

const PREFIX_SEED = 18 << 3;
const PREFIX_USER = 20 << 3;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// PKCS#8 and SPKI DER headers of an Ed25519 key (RFC 8410): the raw 32 bytes follow them.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_LENGTH = 12;

/** One user's NKEY pair. The seed is the secret; the public key is what nats.conf and `nats auth nkey show` print. */
export interface UserNkey {
  readonly seed: string;
  readonly publicKey: string;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(value >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    const index = BASE32.indexOf(char);
    if (index < 0) return undefined;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function withChecksum(payload: Uint8Array): string {
  const crc = crc16(payload);
  return base32(Buffer.concat([payload, Buffer.from([crc & 0xff, crc >> 8])]));
}

/** The ed25519 public key of a raw seed, as raw 32 bytes. */
function publicKeyBytes(rawSeed: Uint8Array): Buffer {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, rawSeed]), format: "der", type: "pkcs8" });
  return createPublicKey(key).export({ format: "der", type: "spki" }).subarray(SPKI_ED25519_LENGTH);
}

/** The NKEY pair of a raw 32-byte ed25519 seed. */
export function userNkeyFromBytes(rawSeed: Uint8Array): UserNkey {
  if (rawSeed.length !== NKEY_SEED_BYTES) throw new Error(`an NKEY seed needs ${NKEY_SEED_BYTES} random bytes, got ${rawSeed.length}`);
  const seed = withChecksum(Buffer.concat([Buffer.from([PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3]), rawSeed]));
  const publicKey = withChecksum(Buffer.concat([Buffer.from([PREFIX_USER]), publicKeyBytes(rawSeed)]));
  return { seed, publicKey };
}

/** The raw seed inside an encoded user seed ("SU..."), or undefined when the text is not one (bad prefix or checksum). */
function rawUserSeed(seed: string): Buffer | undefined {
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) return undefined;
  const bytes = unbase32(seed);
  if (!bytes || bytes.length !== NKEY_SEED_BYTES + 4) return undefined;
  const payload = bytes.subarray(0, bytes.length - 2);
  if (bytes.readUInt16LE(bytes.length - 2) !== crc16(payload)) return undefined;
  if (payload[0] !== (PREFIX_SEED | (PREFIX_USER >> 5)) || payload[1] !== (PREFIX_USER & 31) << 3) return undefined;
  return payload.subarray(2);
}

export const isUserSeed = (text: string): boolean => rawUserSeed(text) !== undefined;

/** What a user seed looks like, for error messages (never the value itself: it is a secret). */
export const USER_SEED_HELP = 'an NKEY user seed: 58 characters starting with "SU" (make one with `nats auth nkey gen user`)';

/** The NKEY pair of an encoded user seed; throws naming `what` (never the seed) when it is not one. */
export function userNkeyFromSeed(seed: string, what = "the NKEY seed"): UserNkey {
  const raw = rawUserSeed(seed.trim());
  if (!raw) throw new Error(`${what} is not ${USER_SEED_HELP}`);
  return userNkeyFromBytes(raw);
}
