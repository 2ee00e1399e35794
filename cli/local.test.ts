// What `npm run local` says about the nats-server it runs (the start-up itself: test/local.live.test.ts).

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeyAuthenticator, type ConnectionOptions } from "nats";
import { describe, expect, it } from "vitest";
import { userNkeyFromBytes } from "../infra/nkeys";
import { nodeConnectLines, serverVersionLines } from "./local";

const pinned = { path: "/cache/nats-server-v2.15.3/bin/nats-server", source: "pinned", tool: "nats-server" } as const;
const distro = { path: "/usr/bin/nats-server", source: "PATH", tool: "nats-server" } as const;

describe("npm run local's server version line", () => {
  it("names the version and where the binary came from, with no warning when it is the image's", () => {
    expect(serverVersionLines("2.15.3", pinned, "nats:2.15.3-alpine")).toEqual({
      progress: "nats-server 2.15.3 (pinned build: /cache/nats-server-v2.15.3/bin/nats-server)",
    });
  });

  it("warns when a distribution's server is not the image's version, naming both and the fix", () => {
    expect(serverVersionLines("2.9.10", distro, "nats:2.15.3-alpine")).toEqual({
      progress: "nats-server 2.9.10 (from PATH: /usr/bin/nats-server)",
      warning:
        "warning: the local nats-server is 2.9.10, the cluster's image nats:2.15.3-alpine runs 2.15.3: behaviour may differ; " +
        "`npm run tools -- nats-server` builds the image's version (README: Test tools)",
    });
  });

  it("warns when the image is pinned by digest (no version to compare)", () => {
    const image = `nats@sha256:${"a".repeat(64)}`;
    expect(serverVersionLines("2.15.3", pinned, image).warning).toBe(`warning: natsImage ${image} names no version to compare with the local nats-server 2.15.3`);
  });
});

describe("npm run local's nats.js lines", () => {
  // The printed lines run as written, with connect() replaced by one that returns its options.
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...values: unknown[]) => Promise<ConnectionOptions>;
  const run = (lines: readonly string[]): Promise<ConnectionOptions> =>
    new AsyncFunction("readFileSync", "connect", "nkeyAuthenticator", `${lines.join("\n")}\nreturn nc;`)(readFileSync, async (o: unknown) => o, nkeyAuthenticator);
  const dir = mkdtempSync(join(tmpdir(), "fluo-local-lines-"));

  it("an NKEY context: the seed file its nkey names, signing the server's nonce, with the CA under TLS", async () => {
    const key = userNkeyFromBytes(randomBytes(32));
    writeFileSync(join(dir, "w.seed"), `${key.seed}\n`);
    const context = join(dir, "w.json");
    writeFileSync(context, JSON.stringify({ url: "tls://127.0.0.1:1,tls://127.0.0.1:2", nkey: join(dir, "w.seed"), inbox_prefix: "_INBOX_W", ca: "/ca.crt" }));
    const options = await run(nodeConnectLines(context, "nkey", true));
    expect(options).toMatchObject({ servers: ["tls://127.0.0.1:1", "tls://127.0.0.1:2"], inboxPrefix: "_INBOX_W", tls: { caFile: "/ca.crt" } });
    expect(options.user).toBeUndefined();
    expect((options.authenticator as (nonce?: string) => { nkey?: string })("nonce").nkey).toBe(key.publicKey);
  });

  it("a password context: its user and password", async () => {
    const context = join(dir, "p.json");
    writeFileSync(context, JSON.stringify({ url: "nats://127.0.0.1:1", user: "fluo-bff", password: "pw", inbox_prefix: "_INBOX_FLUO_BFF" }));
    expect(await run(nodeConnectLines(context, "password", false))).toEqual({ servers: ["nats://127.0.0.1:1"], user: "fluo-bff", pass: "pw", inboxPrefix: "_INBOX_FLUO_BFF" });
  });
});
