import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { nkeys } from "nats";
import { isUserSeed, NKEY_SEED_BYTES, userNkeyFromBytes, userNkeyFromSeed } from "./nkeys";

// Bytes 0..31 as a seed; the public key is what natscli v0.5.0 prints for that seed file
// (`nats auth nkey show seed.txt`).
const VECTOR_RAW = Uint8Array.from({ length: 32 }, (_, i) => i);
const VECTOR_SEED = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
const VECTOR_PUBLIC = "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK";

describe("user NKEYs from raw bytes", () => {
  it("encodes a known seed to the seed and public key natscli shows for it", () => {
    expect(userNkeyFromBytes(VECTOR_RAW)).toEqual({ seed: VECTOR_SEED, publicKey: VECTOR_PUBLIC });
  });

  it("agrees with nkeys.js (the library nats.js signs with) on random seeds", () => {
    for (let i = 0; i < 20; i++) {
      const key = userNkeyFromBytes(randomBytes(NKEY_SEED_BYTES));
      const pair = nkeys.fromSeed(new TextEncoder().encode(key.seed));
      expect(pair.getPublicKey()).toBe(key.publicKey);
      expect(key.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    }
  });

  it("reads back a seed nkeys.js generated, and the same seed gives the same key", () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    expect(userNkeyFromSeed(seed)).toEqual({ seed, publicKey: user.getPublicKey() });
    expect(userNkeyFromSeed(VECTOR_SEED)).toEqual(userNkeyFromSeed(VECTOR_SEED));
  });

  it("refuses what is not a user seed, naming the key and never echoing the value", () => {
    const account = new TextDecoder().decode(nkeys.createAccount().getSeed());
    const typo = VECTOR_SEED.slice(0, -1) + (VECTOR_SEED.endsWith("Y") ? "A" : "Y");
    for (const bad of ["", "hunter2", VECTOR_PUBLIC, account, typo, VECTOR_SEED.toLowerCase()]) {
      expect(isUserSeed(bad), bad).toBe(false);
      let message = "";
      try {
        userNkeyFromSeed(bad, "fluo-queue:bffSeed");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^fluo-queue:bffSeed is not an NKEY user seed: 58 characters starting with "SU"/);
      if (bad !== "") expect(message).not.toContain(bad);
    }
    expect(() => userNkeyFromBytes(new Uint8Array(16))).toThrow(/32 random bytes, got 16/);
  });
});
