// Local mode's certificates (--tls): made once in the state directory, reused while they verify, made afresh
// when a file is missing or the set no longer verifies (openssl, as local mode runs it; no server needed).

import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateCertificates, localCertificates } from "./certificates";

const dir = mkdtempSync(join(tmpdir(), "fluo-local-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const digest = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("local mode's certificates", () => {
  const tls = join(dir, "tls");

  it("are made on the first start, keys private, for 127.0.0.1 and localhost", () => {
    const first = localCertificates(tls);
    expect(first).toMatchObject({ made: true });
    expect(first.replaced).toBeUndefined();
    for (const key of [first.files.caKeyFile, first.files.keyFile]) expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.files.certFile, "utf8")).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("are reused by the next start, byte for byte", () => {
    const before = digest(join(tls, "ca.crt"));
    const again = localCertificates(tls);
    expect(again).toEqual({ made: false, files: expect.objectContaining({ caFile: join(tls, "ca.crt") }) });
    expect(digest(join(tls, "ca.crt"))).toBe(before);
  });

  it("are made afresh, saying why, when a file is missing", () => {
    unlinkSync(join(tls, "server.key"));
    const remade = localCertificates(tls);
    expect(remade.made).toBe(true);
    expect(remade.replaced).toBe(`incomplete set in ${tls} (3 of 4 files)`);
  });

  it("are made afresh when the server certificate is not the CA's", () => {
    // A server certificate of another CA in place of ours: what a hand-edited or half-copied directory looks like.
    generateCertificates(join(dir, "other"));
    const mixed = join(dir, "mixed");
    localCertificates(mixed);
    for (const f of ["server.crt", "server.key"]) copyFileSync(join(dir, "other", f), join(mixed, f));
    const remade = localCertificates(mixed);
    expect(remade.made).toBe(true);
    expect(remade.replaced).toMatch(/server\.crt does not verify against .*ca\.crt a day from now \(.*\)/);
    expect(localCertificates(mixed).made).toBe(false);
  });

  it("are made afresh when they expire within a day", () => {
    const expiring = join(dir, "expiring");
    generateCertificates(expiring, { days: 1 });
    const remade = localCertificates(expiring);
    expect(remade.made).toBe(true);
    expect(remade.replaced).toMatch(/does not verify .* a day from now \(.*expired.*\)/i);
  });
});
