import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type ProgramRun } from "./pulumiProgram.testkit";
import { userSpecs } from "../infra/users";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram("dev");
});

describe("pulumi program, dev stack (SDK mocks)", () => {
  it("sizes the dev cluster from Pulumi.dev.yaml and does not protect it", () => {
    const sts = run.one("kubernetes:apps/v1:StatefulSet", "statefulset");
    expect(sts.protect).toBe(false);
    const spec = sts.inputs.spec as {
      volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } } } }>;
      template: { spec: { containers: Array<{ name: string; resources: { limits: { memory: string } } }>; topologySpreadConstraints: Array<{ whenUnsatisfiable: string }> } };
    };
    expect(spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("3Gi");
    expect(spec.template.spec.containers[0].resources.limits.memory).toBe("1Gi");
    expect(spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable).toBe("ScheduleAnyway");
  });

  it("opens the client port to the namespaces of Pulumi.dev.yaml", () => {
    const policy = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "network-policy");
    const text = JSON.stringify(policy.inputs);
    expect(text).toContain('"kubernetes.io/metadata.name":"fluo"');
  });

  it("generates every user's password and the route password when none is in stack config", () => {
    expect(run.byType("random:index/randomPassword:RandomPassword")).toHaveLength(userSpecs().length + 1);
  });
});
