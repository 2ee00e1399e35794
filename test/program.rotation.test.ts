// A stack in the middle of a password rotation (rotatingUsers): the rotating user has two logins with the same
// permissions, and the services' output carries both credentials.

import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type ProgramRun } from "./pulumiProgram.testkit";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram("dev", { rotatingUsers: ["fluo-workers"] });
});

describe("pulumi program, dev stack rotating the workers' password (SDK mocks)", () => {
  it("renders a second login fluo-workers-next beside fluo-workers, with the same permissions", () => {
    const secret = run.one("kubernetes:core/v1:Secret", "config");
    const conf = (secret.inputs.stringData as { value: Record<string, string> }).value["nats.conf"];
    const block = (login: string) => {
      const start = conf.indexOf(`user: "${login}"`);
      return conf.slice(conf.indexOf("permissions", start), conf.indexOf("\n      }\n", start));
    };
    expect(conf).toContain('user: "fluo-workers-next"');
    expect(block("fluo-workers-next")).toBe(block("fluo-workers"));
    expect(block("fluo-workers")).toContain("$JS.ACK.JOBS.trace-analysis.>");
  });

  it("generates the second password once and hands both credentials to the service", () => {
    expect(run.byType("random:index/randomPassword:RandomPassword").map((r) => r.name)).toContain("fluo-workers-next-password");
    const passwords = run.outputs.passwords as Record<string, string>;
    expect(passwords["fluo-workers"]).toBe("generated-fluo-workers-password");
    expect(passwords["fluo-workers-next"]).toBe("generated-fluo-workers-next-password");
    expect(Object.keys(run.outputs.adminPasswords as object)).not.toContain("fluo-workers-next");
  });
});
