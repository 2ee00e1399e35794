// The dev stack with authentication nkey (SDK mocks): every identity logs in with an NKEY, nats.conf holds their
// public keys and no password hash, seeds come from config or from RandomBytes kept in state, and services read
// them from secret outputs the way they read passwords.

import { beforeAll, describe, expect, it } from "vitest";
import { mockRandomBytes, runProgram, type ProgramRun } from "./pulumiProgram.testkit";
import { userNkeyFromBytes } from "../infra/nkeys";
import { ADMIN_USERS, APP_USERS, userSpecs } from "../infra/users";

// fluo-bff's seed from config (a pair infra/nkeys.test.ts checks against natscli); the others generated.
const BFF_SEED = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
const BFF_PUBLIC = "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK";
const generated = (login: string) => userNkeyFromBytes(mockRandomBytes(`${login}-nkey-seed`, 32));

let run: ProgramRun;
let conf: string;
beforeAll(async () => {
  run = await runProgram("dev", { authentication: "nkey", bffSeed: BFF_SEED, rotatingUsers: ["fluo-workers"] });
  conf = (run.one("kubernetes:core/v1:Secret", "config").inputs.stringData as { value: Record<string, string> }).value["nats.conf"];
});

describe("pulumi program, dev stack with authentication nkey (SDK mocks)", () => {
  it("keeps a 32-byte RandomBytes seed per identity (and the rotating -next login), no password but the route's", () => {
    const seeds = run.byType("random:index/randomBytes:RandomBytes");
    expect(seeds.map((r) => r.name).sort()).toEqual(
      [...userSpecs().filter((u) => u.name !== "fluo-bff").map((u) => `${u.name}-nkey-seed`), "fluo-workers-next-nkey-seed"].sort(),
    );
    for (const r of seeds) expect(r.inputs.length, r.name).toBe(32);
    expect(run.byType("random:index/randomPassword:RandomPassword").map((r) => r.name)).toEqual(["route-password"]);
  });

  it("nats.conf holds each identity's public key, the -next login's own key, and no password hash or seed", () => {
    const accounts = conf.slice(conf.indexOf("accounts {"));
    expect(accounts).toContain(`nkey: "${BFF_PUBLIC}"`);
    for (const user of userSpecs().map((u) => u.name).filter((u) => u !== "fluo-bff")) {
      expect(accounts).toContain(`nkey: "${generated(user).publicKey}"`);
      expect(conf).not.toContain(generated(user).seed);
    }
    expect(accounts).toContain(`nkey: "${generated("fluo-workers-next").publicKey}"`);
    expect(accounts.match(/nkey: "U/g)).toHaveLength(userSpecs().length + 1);
    expect(accounts).not.toMatch(/password|user:|\$2a\$/);
    expect(conf).not.toContain(BFF_SEED);
  });

  it("hands seeds to services as secret outputs: app seeds apart from admin ones, no passwords output", () => {
    const seeds = run.outputs.seeds as Record<string, string>;
    const admin = run.outputs.adminSeeds as Record<string, string>;
    expect(seeds).toEqual({
      "fluo-bff": BFF_SEED,
      "fluo-backend": generated("fluo-backend").seed,
      "fluo-workers": generated("fluo-workers").seed,
      "fluo-workers-next": generated("fluo-workers-next").seed,
    });
    expect(Object.keys(admin).sort()).toEqual([...ADMIN_USERS].sort());
    expect(admin["fluo-provisioner"]).toBe(generated("fluo-provisioner").seed);
    expect(Object.keys(seeds).filter((u) => !(APP_USERS as readonly string[]).includes(u.replace(/-next$/, "")))).toEqual([]);
    // The browser's seed apart from both (it goes into a web page).
    expect(Object.keys(run.outputs.frontendSeeds as Record<string, string>)).toEqual(["fluo-frontend"]);
    expect(run.secretOutputs.sort()).toEqual(["adminSeeds", "frontendSeeds", "seeds"]);
    expect(run.outputs.passwords).toBeUndefined();
    expect(run.outputs.adminPasswords).toBeUndefined();
  });
});
