import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type ProgramRun } from "./pulumiProgram.testkit";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram("prod", { bffPassword: "from-stack-config" });
});

describe("pulumi program, prod stack (SDK mocks)", () => {
  it("registers the cluster's Kubernetes objects under one component, through the explicit provider", () => {
    const types = run.resources.map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "pulumi:providers:kubernetes",
        "fluo-queue:infra:NatsCluster",
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      ]),
    );
    const clusterObjects = run.resources.filter((x) => x.type.startsWith("kubernetes:") && x.parentName !== "monitoring");
    // The 8 objects of the cluster plus cert-manager's 2 Issuers and 2 Certificates (prod runs tls: cert-manager).
    expect(clusterObjects).toHaveLength(12);
    for (const r of clusterObjects) expect(r.parentName).toBe("nats");
    const certificates = run.byType("kubernetes:cert-manager.io/v1:Certificate").map((r) => r.name).sort();
    expect(certificates).toEqual(["certificate-nats-ca", "certificate-nats-server"]);
    expect(run.byType("kubernetes:cert-manager.io/v1:Issuer").map((r) => r.name).sort()).toEqual(["issuer-nats-ca", "issuer-nats-selfsigned"]);
    expect(run.one("kubernetes:apps/v1:StatefulSet", "statefulset").dependsOn).toEqual(expect.arrayContaining(certificates));
  });

  it("every Kubernetes object asks the provider to take its declared fields back from kubectl (pulumi.com/patchForce)", () => {
    // Without it the real API server refuses the next deploy after a `kubectl scale` (apply conflict on
    // .spec.replicas), so drift could not be put back (infra/fieldOwnership.ts).
    const objects = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm"));
    expect(objects.length).toBeGreaterThan(12);
    for (const r of objects) {
      expect((r.inputs.metadata as { annotations?: Record<string, string> }).annotations?.["pulumi.com/patchForce"], `${r.type} ${r.name}`).toBe("true");
    }
  });

  it("the Kubernetes provider updates Secrets in place (enableSecretMutable), so a nats.conf change is no replacement", () => {
    // Provider inputs reach the engine as strings.
    expect(String(run.one("pulumi:providers:kubernetes", "kubernetes").inputs.enableSecretMutable)).toBe("true");
  });

  it("protects the StatefulSet in prod and names it explicitly (never autonamed, so never replaced with new PVCs)", () => {
    const sts = run.one("kubernetes:apps/v1:StatefulSet", "statefulset");
    expect(sts.protect).toBe(true);
    const spec = sts.inputs.spec as { replicas: number; podManagementPolicy: string; template: { spec: { containers: Array<{ name: string }> } } };
    expect((sts.inputs.metadata as { name: string; namespace: string })).toMatchObject({ name: "nats", namespace: "fluo-queue" });
    expect(spec.replicas).toBe(3);
    expect(spec.podManagementPolicy).toBe("Parallel");
    expect(spec.template.spec.containers.map((c) => c.name)).toEqual(["nats", "reloader", "exporter"]);
    expect(sts.dependsOn).toEqual(expect.arrayContaining(["namespace", "config", "headless-service"]));
  });

  it("puts nats.conf only in the Secret, as a Pulumi secret, with bcrypt hashes and never a password", () => {
    const secret = run.one("kubernetes:core/v1:Secret", "config");
    // The engine receives secret values wrapped with Pulumi's secret signature: encrypted in state.
    const wrapped = secret.inputs.stringData as { [SECRET_SIG]: string; value: Record<string, string> };
    expect(wrapped[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    const conf = wrapped.value["nats.conf"];
    expect(conf).toContain("jetstream {");
    expect(conf).not.toContain("from-stack-config");
    // User passwords never; the route password must be there in plain text (each server presents it on its routes).
    expect(conf).not.toContain("generated-fluo-");
    expect(conf).toContain("nats://fluo-route:generated-route-password@nats-0.nats-headless.fluo-queue.svc.cluster.local:6222");
    expect(conf).toContain('ca_file: "/etc/nats-tls/ca.crt"');
    expect(conf.match(/password: "\$2a\$11\$/g)).toHaveLength(8);
  });

  it("uses the password from stack config when set and generates the others once", () => {
    const generated = run.byType("random:index/randomPassword:RandomPassword").map((r) => r.name).sort();
    expect(generated).toEqual(["fluo-backend-password", "fluo-backup-password", "fluo-frontend-password", "fluo-monitor-password", "fluo-operator-password", "fluo-provisioner-password", "fluo-workers-password", "route-password"]);
    const passwords = run.outputs.passwords as Record<string, string>;
    expect(passwords["fluo-bff"]).toBe("from-stack-config");
    expect(passwords["fluo-workers"]).toBe("generated-fluo-workers-password");
  });

  it("keeps the administrative credentials out of the passwords that services read (abuse path 5)", () => {
    const app = run.outputs.passwords as Record<string, string>;
    const admin = run.outputs.adminPasswords as Record<string, string>;
    expect(Object.keys(app).sort()).toEqual(["fluo-backend", "fluo-bff", "fluo-workers"]);
    expect(Object.keys(admin).sort()).toEqual(["fluo-backup", "fluo-monitor", "fluo-operator", "fluo-provisioner"]);
    expect(admin["fluo-provisioner"]).toBe("generated-fluo-provisioner-password");
    // The browser's credential is in neither: it is readable by anyone who loads the page.
    expect(Object.keys(run.outputs.frontendPasswords as Record<string, string>)).toEqual(["fluo-frontend"]);
  });

  it("monitors what the catalog declares: alert rules for its consumers, dashboard in the Grafana namespace", () => {
    const rule = run.byType("kubernetes:monitoring.coreos.com/v1:PrometheusRule")[0];
    expect(JSON.stringify(rule.inputs)).toContain('consumer_name=\\"trace-analysis\\"');
    expect(rule.parentName).toBe("monitoring");
  });

  it("exports the in-cluster client URL", () => {
    expect(run.outputs.clientUrl).toBe("tls://nats.fluo-queue.svc.cluster.local:4222");
  });
});
