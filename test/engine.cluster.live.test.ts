// The program through the real Pulumi engine in cluster mode, the mode production runs: the Kubernetes provider
// applies every object to a real kube-apiserver (test/kube/: etcd, kube-apiserver with RBAC and Pod Security
// admission, kube-controller-manager, the CRDs of prometheus-operator and cert-manager from their Go modules, and a
// kubelet player for the pods the StatefulSet controller creates). The same npm scripts and flags as the GitOps
// engine tests and the workflows. The dev stack's life, in order: up from empty, a no-op preview, refresh, drift
// made through the API reported by the drift check and put back by deploy, destroy.
//
// Streams are not managed here (no fluo-queue:natsUrl: the pods do not run, so there is no NATS to reach); the
// GitOps engine tests cover the stream provider through the engine.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { deploymentModel, kubernetesManifests } from "../model";
import { readStackConfig, readStackFileValues } from "../infra/stackFile";
import { userSpecs, type UserName } from "../infra/users";
import { SALT_KEY_BYTES } from "../infra/passwordHash";
import { randomBytes } from "node:crypto";
import { EngineProject, stateResources, summary, type CommandOutput } from "./engine.testkit";
import { TestKubeCluster, clusterTool } from "./kube/testCluster.testkit";
import { installCrds } from "./kube/crds.testkit";
import { KubeletPlayer } from "./kube/kubeletPlayer.testkit";
import { apiPath, fieldDifferences, objectKey, objectsOfYaml, type ObjectRef } from "./kube/objects.testkit";
import type { KubeObject } from "./kube/apiClient.testkit";

const STEP = 300_000;
const devConfig = readStackConfig("dev");
const dev = deploymentModel(devConfig);
/** Every object the dev stack applies, as the renderers make them (Secret values aside: placeholder hashes). */
const rendered = objectsOfYaml(kubernetesManifests(dev));
const NS = devConfig.namespace;

const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `${u.name.replace("fluo-", "")}-${randomBytes(12).toString("hex")}`])) as Record<UserName, string>;

let project: EngineProject;
let cluster: TestKubeCluster;
let player: KubeletPlayer;
let kubectl: string;

/** A stack of the copy in cluster mode: the test cluster's kubeconfig and every secret the program would generate. */
function initStack(stack: string): void {
  project.cliOk(["stack", "init", stack, "--secrets-provider", "passphrase"]);
  project.cliOk([
    "config", "set-all", "--stack", stack,
    "--secret", `fluo-queue:kubeconfig=${cluster.kubeconfig}`,
    // The random provider cannot be built from the module proxy (README "Engine tests").
    ...userSpecs().flatMap((u) => ["--secret", `fluo-queue:${u.passwordKey}=${passwords[u.name]}`]),
    "--secret", `fluo-queue:routePassword=route-${randomBytes(12).toString("hex")}`,
    "--secret", `fluo-queue:bcryptSaltKey=${randomBytes(SALT_KEY_BYTES).toString("base64")}`,
  ]);
}

/** Commands still running: afterAll kills them (a step that timed out must not leave pulumi waiting on a dead cluster). */
const running = new Set<AbortController>();

/**
 * `npm run <script> -- --stack <stack> ...`; for the `stack` script the operation comes first. A deploy is given up
 * (its process group killed) as soon as the StatefulSet controller reports FailedCreate: Pulumi would otherwise wait
 * its 10-minute readiness timeout for pods that admission refused, and the step would fail on time, not on cause.
 */
async function runOn(stack: string, script: string, ...extra: string[]): Promise<CommandOutput> {
  const controller = new AbortController();
  running.add(controller);
  let refused: string | undefined;
  const watch = (async () => {
    while (script === "deploy" && !controller.signal.aborted) {
      const events = await cluster.api.list<EventLive>(`/api/v1/namespaces/${NS}/events`).catch(() => []);
      const failed = events.find((e) => e.reason === "FailedCreate");
      if (failed) {
        refused = `${failed.involvedObject.kind}/${failed.involvedObject.name}: ${failed.message}`;
        controller.abort();
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const result = await project.npm(script, script === "stack" ? [...extra, "--stack", stack] : ["--stack", stack, ...extra], {}, { signal: controller.signal });
    if (refused) throw new Error(`npm run deploy given up: the StatefulSet controller could not create pods (${refused})\n${result.text.slice(-3000)}`);
    return result;
  } finally {
    controller.abort();
    running.delete(controller);
    await watch;
  }
}
const run = (script: string, ...extra: string[]) => runOn("dev", script, ...extra);

/**
 * The dev stack's resources as the engine's summary counts them: all of its state but the default provider of
 * the dynamic resources (the storage guard's), which the summary leaves out.
 */
const countedResources = (): number => stateResources(project, "dev").filter((r) => r.type !== "pulumi:providers:pulumi-nodejs").length;

function expectOk(result: CommandOutput): void {
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.text.slice(-8000)}`);
}

/** kubectl as an operator types it, on the test cluster's kubeconfig. */
function kubectlOk(args: readonly string[]): string {
  const r = spawnSync(kubectl, [`--kubeconfig=${cluster.kubeconfigPath}`, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The engine's "warning:" diagnostics (API server warnings reach the output this way). */
function warnings(text: string): string[] {
  return [...text.matchAll(/^\s*warning: (.*)$/gm)].map((m) => m[1].trim());
}

interface StatefulSetLive extends KubeObject {
  readonly metadata: KubeObject["metadata"] & { readonly generation?: number };
  readonly spec: { readonly replicas: number };
  readonly status: { readonly readyReplicas?: number; readonly currentRevision?: string; readonly updateRevision?: string; readonly observedGeneration?: number };
}

interface EventLive extends KubeObject {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly involvedObject: { readonly kind: string; readonly name: string };
}

/** Polls `check` (an API read) until it holds; the last value read is in the failure message. */
async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s; last read ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const statefulSet = rendered.find((o) => o.kind === "StatefulSet")!;

beforeAll(async () => {
  project = EngineProject.create();
  kubectl = clusterTool("kubectl");
  cluster = await TestKubeCluster.start();
  // What the target cluster has before the first deploy: the monitoring namespace (Prometheus, Grafana's
  // dashboard sidecar) and the operators' CRDs. The program creates neither.
  await cluster.api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: devConfig.grafanaNamespace } });
  if (devConfig.monitoringNamespace !== devConfig.grafanaNamespace) {
    await cluster.api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: devConfig.monitoringNamespace } });
  }
  await installCrds(cluster.api);
  player = await KubeletPlayer.start(cluster.api);

  initStack("dev");
}, 1_800_000);

afterAll(async () => {
  for (const controller of running) controller.abort();
  await player?.stop();
  await cluster?.stop();
  project?.remove();
});

describe("the dev stack in cluster mode on a real API server", () => {
  let up: CommandOutput;

  it("pulumi up from empty creates every object the renderers make; the StatefulSet's pods are created and Ready", async () => {
    up = await run("deploy");
    expectOk(up);
    const missing: string[] = [];
    for (const object of rendered) if (!(await cluster.api.find(apiPath(object)))) missing.push(objectKey(object));
    expect(missing).toEqual([]);
    // Every Kubernetes resource of the state is one of them, and the summary created them all.
    const kubernetesResources = stateResources(project, "dev").filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"));
    expect(kubernetesResources).toHaveLength(rendered.length);
    const counts = summary(up.text);
    expect(Object.keys(counts).filter((k) => k !== "created" && k !== "unchanged")).toEqual([]);
    expect(counts.created).toBeGreaterThanOrEqual(rendered.length);
    process.stderr.write(`cluster-mode up: ${rendered.length} Kubernetes objects created (${counts.created} resources); kubelet player ${JSON.stringify(player.done)}\n`);

    const sts = await cluster.api.get<StatefulSetLive>(apiPath(statefulSet));
    expect(sts.status.readyReplicas).toBe(devConfig.replicas);
    const pods = await cluster.api.list(`/api/v1/namespaces/${NS}/pods`);
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(Array.from({ length: devConfig.replicas }, (_, i) => `${statefulSet.metadata.name}-${i}`));
    for (const pod of pods) expect(pod.metadata.ownerReferences?.map((o) => o.kind), pod.metadata.name).toEqual(["StatefulSet"]);
    expect(player.problems).toEqual([]);
  }, STEP);

  it("the namespace enforces Pod Security restricted and the pods passed it: no FailedCreate event, no PodSecurity warning", async () => {
    const ns = await cluster.api.get(`/api/v1/namespaces/${NS}`);
    expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const events = await cluster.api.list<EventLive>(`/api/v1/namespaces/${NS}/events`);
    const warningEvents = events.filter((e) => e.type === "Warning").map((e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`);
    process.stderr.write(`Warning events in ${NS} after up:\n${warningEvents.join("\n") || "(none)"}\n`);
    expect(warningEvents.filter((e) => / FailedCreate: /.test(e))).toEqual([]);
    const engineWarnings = warnings(up.text);
    process.stderr.write(`engine warnings of up:\n${engineWarnings.join("\n") || "(none)"}\n`);
    expect(engineWarnings.filter((w) => /PodSecurity|would violate/i.test(w))).toEqual([]);
  });

  it("the server keeps every field the renderers sent (CRD objects accepted and not pruned, nothing rewritten)", async () => {
    const differences: string[] = [];
    for (const object of rendered) {
      if (object.kind === "Secret") continue; // write-only stringData and hashed passwords: the Secret's content is the program's
      const live = await cluster.api.get(apiPath(object));
      for (const d of fieldDifferences(object, live)) differences.push(`${objectKey(object)} ${d}`);
    }
    expect(differences).toEqual([]);
  });

  it("the CRD schemas are enforced (control): a PrometheusRule with an invalid `for` is refused", async () => {
    const rule = rendered.find((o) => o.kind === "PrometheusRule") as (ObjectRef & { spec: { groups: { rules: Record<string, unknown>[] }[] } }) | undefined;
    if (!rule) throw new Error("the dev stack renders no PrometheusRule");
    const broken = {
      ...rule,
      metadata: { name: "broken-rule", namespace: NS },
      spec: { groups: [{ name: "broken", rules: [{ ...rule.spec.groups[0].rules[0], for: "five minutes" }] }] },
    };
    const response = await cluster.api.raw("POST", apiPath(broken).replace(/\/broken-rule$/, ""), broken);
    expect(response.status, JSON.stringify(response.body)).toBe(422);
  });

  it("a preview right after up shows no change", async () => {
    const preview = await run("preview", "--expect-no-changes");
    expectOk(preview);
    expect(Object.keys(summary(preview.text)).filter((k) => k !== "unchanged")).toEqual([]);
  }, STEP);

  it("refresh reads every object back with no change, and the drift check then passes", async () => {
    const refresh = await run("stack", "refresh");
    expectOk(refresh);
    expect(Object.keys(summary(refresh.text)).filter((k) => k !== "unchanged")).toEqual([]);
    const drift = await run("drift:state");
    expectOk(drift);
  }, STEP);

  it("drift made with kubectl (a changed label, a scaled StatefulSet, an edited NetworkPolicy) fails the drift check naming object and field; deploy puts it back", async () => {
    const name = statefulSet.metadata.name;
    kubectlOk(["-n", NS, "label", "statefulset", name, "fluo/environment=drifted", "--overwrite"]);
    kubectlOk(["-n", NS, "scale", "statefulset", name, "--replicas=2"]);
    // An edited NetworkPolicy: every ingress rule dropped, as a hurried `kubectl edit` might.
    const policy = rendered.find((o) => o.kind === "NetworkPolicy")!;
    kubectlOk(["-n", NS, "patch", "networkpolicy", policy.metadata.name, "--type=merge", "-p", JSON.stringify({ spec: { ingress: [] } })]);
    await eventually("the scaled StatefulSet settles", () => cluster.api.get<StatefulSetLive>(apiPath(statefulSet)), (s) => s.status.readyReplicas === 2 && s.spec.replicas === 2);

    const drift = await run("drift:state");
    expect(drift.code, drift.text.slice(-3000)).not.toBe(0);
    // The engine names each object and its changed top-level fields; nothing else changed.
    expect(drift.text).toMatch(/^ ~ {2}kubernetes:apps\/v1:StatefulSet statefulset update \[diff: ~metadata,spec\]/m);
    expect(drift.text).toMatch(/^ ~ {2}kubernetes:networking\.k8s\.io\/v1:NetworkPolicy network-policy update \[diff: ~spec\]/m);
    expect(summary(drift.text)).toEqual({ "to update": 2, unchanged: countedResources() - 2 });
    // And the drift check's own rows name each field with its state and live value, nothing else.
    const rows = drift.text.slice(drift.text.indexOf("Refresh found (state => live):")).split("\n").filter((l) => l.startsWith("  ~ "));
    expect(rows.find((l) => l.includes("StatefulSet statefulset:"))).toBe(
      `  ~ kubernetes:apps/v1:StatefulSet statefulset: metadata.labels.fluo/environment: "${devConfig.environment}" => "drifted", spec.replicas: ${devConfig.replicas} => 2`,
    );
    expect(rows.find((l) => l.includes("NetworkPolicy network-policy:"))).toMatch(/^ {2}~ kubernetes:networking\.k8s\.io\/v1:NetworkPolicy network-policy: spec\.ingress/);
    // One row per drifted object (the emptied ingress list is absent live: "=> undefined" there is the truth).
    expect(rows).toHaveLength(2);

    expectOk(await run("deploy"));
    const back = await eventually("the StatefulSet is back", () => cluster.api.get<StatefulSetLive>(apiPath(statefulSet)), (s) => s.status.readyReplicas === devConfig.replicas);
    expect(back.spec.replicas).toBe(devConfig.replicas);
    expect(back.metadata.labels?.["fluo/environment"]).toBe(devConfig.environment);
    expect(fieldDifferences(policy, await cluster.api.get(apiPath(policy)))).toEqual([]);
    expectOk(await run("drift:state"));
  }, STEP * 2);

  it("a password change updates the nats-config Secret and nothing else: same Secret object, same pods", async () => {
    const secretPath = `/api/v1/namespaces/${NS}/secrets/${rendered.find((o) => o.kind === "Secret")!.metadata.name}`;
    const before = await cluster.api.get(secretPath);
    const podsBefore = (await cluster.api.list(`/api/v1/namespaces/${NS}/pods`)).map((p) => p.metadata.uid).sort();
    const bff = userSpecs().find((u) => u.name === "fluo-bff")!;
    project.cliOk(["config", "set", "--stack", "dev", "--secret", `fluo-queue:${bff.passwordKey}`, `bff-${randomBytes(12).toString("hex")}`]);
    const up = await run("deploy");
    expectOk(up);
    const counts = summary(up.text);
    process.stderr.write(`password change: ${JSON.stringify(counts)}\n`);
    const after = await cluster.api.get(secretPath);
    expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
    expect({ counts, uid: after.metadata.uid }).toEqual({ counts: { updated: 1, unchanged: countedResources() - 1 }, uid: before.metadata.uid });
    expect((await cluster.api.list(`/api/v1/namespaces/${NS}/pods`)).map((p) => p.metadata.uid).sort()).toEqual(podsBefore);
  }, STEP);

  it("a pod-template change (cpuRequest) is one update of the StatefulSet, rolled out pod by pod", async () => {
    const before = await cluster.api.get<StatefulSetLive>(apiPath(statefulSet));
    const podsBefore = (await cluster.api.list(`/api/v1/namespaces/${NS}/pods`)).map((p) => p.metadata.uid);
    project.cliOk(["config", "set", "--stack", "dev", "fluo-queue:cpuRequest", "150m"]);
    const up = await run("deploy");
    expectOk(up);
    const counts = summary(up.text);
    expect(counts).toEqual({ updated: 1, unchanged: countedResources() - 1 });
    // `up` may return before the rollout is over: in 2 of 3 runs here the StatefulSet read right after it was mid-way
    // (ready 2, current revision != update revision). The provider 4.25's StatefulSet await checks metadata.generation
    // but not status.observedGeneration (pkg/await/statefulset.go), so an event of the patched object that still
    // carries the old status (current = update revision, all ready) can end the wait. So the rollout is waited for
    // here, and what the StatefulSet looked like when `up` returned is printed.
    const atReturn = await cluster.api.get<StatefulSetLive>(apiPath(statefulSet));
    process.stderr.write(
      `pod-template change: up returned at generation ${atReturn.metadata.generation}, observedGeneration ${atReturn.status.observedGeneration}, ` +
        `current ${atReturn.status.currentRevision}, update ${atReturn.status.updateRevision}, ready ${atReturn.status.readyReplicas}\n`,
    );
    const after = await eventually(
      "the rollout of the new template",
      () => cluster.api.get<StatefulSetLive>(apiPath(statefulSet)),
      (st) =>
        st.status.observedGeneration === st.metadata.generation &&
        st.status.updateRevision !== before.status.updateRevision &&
        st.status.currentRevision === st.status.updateRevision &&
        st.status.readyReplicas === devConfig.replicas,
    );
    expect(after.metadata.uid).toBe(before.metadata.uid);
    const podsAfter = await cluster.api.list(`/api/v1/namespaces/${NS}/pods`);
    for (const pod of podsAfter) expect(podsBefore, pod.metadata.name).not.toContain(pod.metadata.uid);
  }, STEP);

  it("a storageSize change is refused in preview and by deploy, nothing touched; allowStorageChange shows the StatefulSet's replacement", async () => {
    const before = await cluster.api.get<StatefulSetLive>(apiPath(statefulSet));
    const size = String(readStackFileValues("dev").storageSize);
    project.cliOk(["config", "set", "--stack", "dev", "fluo-queue:storageSize", "4Gi"]);
    try {
      const refused = await run("preview");
      expect(refused.code).not.toBe(0);
      expect(refused.text).toContain(`refusing to change the NATS volumes (storageSize ${size} -> 4Gi)`);
      expect(refused.text.match(/refusing to change the NATS volumes/g)).toHaveLength(1);
      const deploy = await run("deploy");
      expect(deploy.code).not.toBe(0);
      expect(deploy.text).not.toMatch(/\$ pulumi up /);
      expect((await cluster.api.get<StatefulSetLive>(apiPath(statefulSet))).metadata.uid).toBe(before.metadata.uid);

      project.cliOk(["config", "set", "--stack", "dev", "fluo-queue:allowStorageChange", "true"]);
      const optedIn = await run("preview");
      expectOk(optedIn);
      expect(optedIn.text).toMatch(/\+-\s*kubernetes:apps\/v1:StatefulSet: \(replace\)/);
    } finally {
      project.cliOk(["config", "set", "--stack", "dev", "fluo-queue:storageSize", size]);
      project.cliOk(["config", "rm", "--stack", "dev", "fluo-queue:allowStorageChange"]);
    }
    expectOk(await run("preview", "--expect-no-changes"));
  }, STEP * 2);

  it("destroy removes every object", async () => {
    expectOk(await run("stack", "destroy"));
    const left: string[] = [];
    for (const object of rendered) if (await cluster.api.find(apiPath(object))) left.push(objectKey(object));
    expect(left).toEqual([]);
    expect(stateResources(project, "dev").filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"))).toEqual([]);
    expect(player.problems).toEqual([]);
  }, STEP);
});

describe("the prod stack in cluster mode", () => {
  const prodConfig = readStackConfig("prod");
  const prodObjects = objectsOfYaml(kubernetesManifests(deploymentModel(prodConfig)));

  it("pulumi up creates every object, cert-manager's Issuers and Certificates accepted by their CRDs; protect refuses destroy", async () => {
    initStack("prod");
    const up = await runOn("prod", "deploy");
    expectOk(up);
    expect(prodObjects.map((o) => o.kind)).toEqual(expect.arrayContaining(["Issuer", "Certificate"]));
    const differences: string[] = [];
    for (const object of prodObjects) {
      const live = await cluster.api.find(apiPath(object));
      if (!live) differences.push(`${objectKey(object)} missing`);
      else if (object.kind !== "Secret") for (const d of fieldDifferences(object, live)) differences.push(`${objectKey(object)} ${d}`);
    }
    expect(differences).toEqual([]);
    expect(warnings(up.text).filter((w) => /PodSecurity|would violate/i.test(w))).toEqual([]);
    process.stderr.write(`cluster-mode prod up: ${prodObjects.length} Kubernetes objects; engine warnings:\n${warnings(up.text).join("\n")}\n`);

    const refused = await runOn("prod", "stack", "destroy");
    expect(refused.code).not.toBe(0);
    expect(refused.text).toMatch(/protected/i);
    expect(await cluster.api.find(apiPath(prodObjects.find((o) => o.kind === "StatefulSet")!))).toBeDefined();
    expect(player.problems).toEqual([]);
  }, STEP * 2);
});
