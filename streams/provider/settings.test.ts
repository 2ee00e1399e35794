// How the stream provider logs in, from the stack config configure() receives: with fluo-provisioner's NKEY seed
// under authentication nkey, with its password otherwise.

import { describe, expect, it } from "vitest";
import { settingsFromConfig } from "./settings";
import { connectError, loginOptions } from "./client";

const SEED = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
const config = (values: Record<string, string>) => ({ get: (k: string) => values[k] });
const URL = { "fluo-queue:natsUrl": "nats://a:4222" };

describe("provider login", () => {
  it("with authentication nkey uses provisionerSeed and no password", () => {
    const s = settingsFromConfig(config({ ...URL, "fluo-queue:authentication": "nkey", "fluo-queue:provisionerSeed": `${SEED}\n` }));
    expect(s.connection).toEqual({ servers: ["nats://a:4222"], user: "fluo-provisioner", inboxPrefix: "_INBOX_FLUO_PROVISIONER", seed: SEED });
    const options = loginOptions(s.connection);
    expect(options.user).toBeUndefined();
    expect(options.pass).toBeUndefined();
    expect(typeof options.authenticator).toBe("function");
  });

  it("a missing seed under nkey is the stack config's own one line, saying which key to set and how to make one", () => {
    expect(() => settingsFromConfig(config({ ...URL, "fluo-queue:authentication": "nkey" }))).toThrow(
      /^invalid stack config: fluo-queue:provisionerSeed is not set, but fluo-queue:natsUrl is, .* set it with `nats auth nkey gen user > provisioner\.seed && pulumi config set --secret fluo-queue:provisionerSeed "\$\(cat provisioner\.seed\)" && rm provisioner\.seed`$/,
    );
  });

  it("reads natsTimeout with the stack config's rules: what the program accepts, the provider accepts", () => {
    const at = (natsTimeout: string) => settingsFromConfig(config({ ...URL, "fluo-queue:provisionerPassword": "pw", "fluo-queue:natsTimeout": natsTimeout })).timeoutMs;
    expect(at("1m30s")).toBe(90_000);
    expect(at("1500ms")).toBe(1_500);
    expect(() => at("500ms")).toThrow(/^invalid stack config: fluo-queue:natsTimeout = "500ms": must be from 1s to 10m/);
    expect(() => at("11m")).toThrow(/fluo-queue:natsTimeout = "11m"/);
  });

  it("password and password+nkey (the default too) log in with the password", () => {
    for (const mode of [undefined, "password", "password+nkey"]) {
      const values = { ...URL, "fluo-queue:provisionerPassword": "pw", ...(mode === "password+nkey" ? { "fluo-queue:provisionerSeed": SEED } : {}), ...(mode ? { "fluo-queue:authentication": mode } : {}) };
      const s = settingsFromConfig(config(values));
      expect(s.connection, mode).toMatchObject({ user: "fluo-provisioner", password: "pw" });
      expect("seed" in s.connection, mode).toBe(false);
      expect(loginOptions(s.connection)).toEqual({ user: "fluo-provisioner", pass: "pw" });
    }
  });

  it("a refused seed login names the seed's config key, not the password's", () => {
    const refused = Object.assign(new Error("Authorization Violation"), { code: "AUTHORIZATION_VIOLATION" });
    expect(connectError({ servers: ["nats://a:4222"], user: "fluo-provisioner", seed: SEED }, refused).message).toBe(
      'NATS at nats://a:4222 refused user "fluo-provisioner" (Authorization Violation): check the fluo-provisioner NKEY seed (stack config fluo-queue:provisionerSeed, or the seed or context file given to this command)',
    );
    expect(connectError({ servers: ["nats://a:4222"], user: "fluo-provisioner" }, refused).message).toContain("check the fluo-provisioner password (stack config fluo-queue:provisionerPassword");
  });
});
