// The one reader of nats CLI context files: password and NKEY contexts to nats.js options, and what it refuses.

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "nats";
import { describe, expect, it } from "vitest";
import { userNkeyFromBytes } from "../infra/nkeys";
import { clientOptions, ContextFileError, readContextFile } from "./natsContext";

const dir = mkdtempSync(join(tmpdir(), "fluo-context-"));
const key = userNkeyFromBytes(randomBytes(32));
const seedFile = join(dir, "workers.seed");
writeFileSync(seedFile, `${key.seed}\n`);
let n = 0;
function contextWith(content: unknown, where = dir): string {
  const file = join(where, `context-${n++}.json`);
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}
const url = "nats://127.0.0.1:4222,nats://127.0.0.1:4223";

describe("nats CLI context files", () => {
  it("a password context gives user and pass, its servers split, its inbox prefix, and the CA as TLS", () => {
    const file = contextWith({ url, user: "fluo-bff", password: "pw", inbox_prefix: "_INBOX_FLUO_BFF", ca: "/x/ca.crt" });
    expect(clientOptions(readContextFile(file))).toEqual({
      servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"],
      inboxPrefix: "_INBOX_FLUO_BFF",
      user: "fluo-bff",
      pass: "pw",
      tls: { caFile: "/x/ca.crt" },
    });
  });

  it("an NKEY context reads the seed file and signs the server's nonce with it (nkeyAuthenticator), sending no user", () => {
    const file = contextWith({ url, nkey: seedFile, inbox_prefix: "_INBOX_FLUO_WORKERS", ca: "" });
    const context = readContextFile(file);
    expect(context.login).toEqual({ kind: "nkey", seedFile, seed: key.seed });
    const options = clientOptions(context);
    expect(options.user).toBeUndefined();
    expect(options.pass).toBeUndefined();
    expect(options.tls).toBeUndefined();
    const nonce = "a-server-nonce";
    const auth = options.authenticator!(nonce) as { nkey?: string; sig?: string };
    expect(auth.nkey).toBe(key.publicKey);
    const verifier = nkeys.fromPublic(key.publicKey);
    expect(verifier.verify(new TextEncoder().encode(nonce), nkeys.decode(auth.sig!))).toBe(true);
  });

  it("a relative nkey path is taken from the context file's directory", () => {
    const sub = join(dir, "sub");
    mkdirSync(sub, { recursive: true });
    const file = contextWith({ url, nkey: "../workers.seed", inbox_prefix: "_INBOX_FLUO_WORKERS" }, sub);
    expect(readContextFile(file).login).toMatchObject({ kind: "nkey", seedFile });
  });

  it("refuses, naming the file and what is wrong (never the seed): both nkey and user, a missing or wrong seed file, no password", () => {
    const cases: Array<[unknown, string]> = [
      [{ url, user: "fluo-bff", nkey: seedFile }, 'has both "nkey" and "user"; with an NKEY the server refuses a login that also names a user, so remove "user"'],
      [{ url, nkey: join(dir, "missing.seed") }, `"nkey" ${join(dir, "missing.seed")}: no such file`],
      [{ url, nkey: contextWith("{}") }, "does not hold an NKEY user seed"],
      [{ url, user: "fluo-bff" }, '"password" is missing'],
      ["[1]", "must be a JSON object"],
      ["{", "not valid JSON"],
    ];
    for (const [content, detail] of cases) {
      const file = contextWith(content);
      let thrown: unknown;
      try {
        readContextFile(file);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(content)).toBeInstanceOf(ContextFileError);
      expect((thrown as ContextFileError).message).toContain(`${file}: `);
      expect((thrown as ContextFileError).detail).toContain(detail);
      expect((thrown as Error).message).not.toContain(key.seed);
    }
  });

  it("nats.js options need the url and the inbox prefix (the users' permissions allow replies to their own only)", () => {
    expect(() => clientOptions(readContextFile(contextWith({ nkey: seedFile, inbox_prefix: "_INBOX_X" })))).toThrow('"url" is missing');
    expect(() => clientOptions(readContextFile(contextWith({ url, nkey: seedFile })))).toThrow('"inbox_prefix" is missing');
  });
});
