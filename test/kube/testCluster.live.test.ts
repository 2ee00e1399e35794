// The test cluster kit itself: the pinned control plane reports its release, the CRDs are served, the kubelet
// player takes a StatefulSet's pods to Ready the way a node would, Pod Security admission refuses a non-compliant
// pod with the event and warning the cluster-mode engine tests look for (their control), and stop() leaves no
// process behind.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { toolSpec } from "../../tools/manifest";
import { canListen } from "../../local/localCluster";
import { TestKubeCluster, clusterTool } from "./testCluster.testkit";
import { installCrds } from "./crds.testkit";
import { KubeletPlayer } from "./kubeletPlayer.testkit";
import type { KubeObject } from "./apiClient.testkit";

let cluster: TestKubeCluster;
let player: KubeletPlayer;

interface StatefulSetLive extends KubeObject {
  readonly status: { readonly readyReplicas?: number };
}

async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s; last read ${JSON.stringify(value).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A one-container StatefulSet; `restricted` decides whether its pod template passes Pod Security restricted. */
function statefulSet(name: string, restricted: boolean): Record<string, unknown> {
  const securityContext = restricted
    ? { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } }
    : // Nothing set: root allowed, escalation allowed, capabilities kept (privileged: true would be refused by
      // the API server itself without --allow-privileged, before Pod Security is asked).
      {};
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name },
    spec: {
      replicas: 2,
      podManagementPolicy: "Parallel",
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { automountServiceAccountToken: false, containers: [{ name: "main", image: "example.invalid/none:1", securityContext }] } },
    },
  };
}

beforeAll(async () => {
  cluster = await TestKubeCluster.start();
  player = await KubeletPlayer.start(cluster.api);
  await cluster.api.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "kit", labels: { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted" } },
  });
}, 1_800_000);

afterAll(async () => {
  await player?.stop();
  await cluster?.stop();
});

describe("the test Kubernetes cluster kit", () => {
  it("runs the pinned releases: the API server, kubectl and etcd report the versions of tools/versions.json", async () => {
    const version = (await cluster.api.call<{ gitVersion: string; major: string; minor: string }>("GET", "/version")).body;
    expect(version.gitVersion).toBe(toolSpec("kube-apiserver").version);
    expect(`v${version.major}.${version.minor}`).toBe(toolSpec("kube-apiserver").version.split(".").slice(0, 2).join("."));
    const client = spawnSync(clusterTool("kubectl"), ["version", "--client", "-o", "json"], { encoding: "utf8" });
    expect((JSON.parse(client.stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion).toBe(toolSpec("kubectl").version);
    const etcd = spawnSync(clusterTool("etcd"), ["--version"], { encoding: "utf8" });
    expect(etcd.stdout).toContain(`etcd Version: ${toolSpec("etcd").version.replace(/^v/, "")}`);
  });

  it("installs the PrometheusRule, PodMonitor, Certificate, Issuer and ClusterIssuer CRDs from the Go module cache, Established", async () => {
    const names = await installCrds(cluster.api);
    expect(names.sort()).toEqual([
      "certificates.cert-manager.io",
      "clusterissuers.cert-manager.io",
      "issuers.cert-manager.io",
      "podmonitors.monitoring.coreos.com",
      "prometheusrules.monitoring.coreos.com",
    ]);
  });

  it("the kubelet player binds the StatefulSet controller's pods to its node and reports them Ready", async () => {
    await cluster.api.create("/apis/apps/v1/namespaces/kit/statefulsets", statefulSet("good", true));
    const sts = await eventually("2 ready replicas", () => cluster.api.get<StatefulSetLive>("/apis/apps/v1/namespaces/kit/statefulsets/good"), (s) => s.status.readyReplicas === 2);
    expect(sts.status.readyReplicas).toBe(2);
    const pods = await cluster.api.list<KubeObject & { spec: { nodeName?: string } }>("/api/v1/namespaces/kit/pods?labelSelector=app%3Dgood");
    expect(pods.map((p) => [p.metadata.name, p.spec.nodeName])).toEqual([
      ["good-0", player.nodeName],
      ["good-1", player.nodeName],
    ]);
    // Deleting a pod goes through the kubelet's part too: the controller's replacement comes back Ready.
    const uid = pods[0].metadata.uid;
    await cluster.api.remove("/api/v1/namespaces/kit/pods/good-0");
    await eventually(
      "good-0 replaced and Ready",
      () => cluster.api.find<KubeObject & { status?: { phase?: string } }>("/api/v1/namespaces/kit/pods/good-0"),
      (p) => p !== undefined && p.metadata.uid !== uid && p.status?.phase === "Running",
    );
    expect(player.problems).toEqual([]);
  });

  it("Pod Security restricted: a non-compliant StatefulSet is admitted with a warning, its pods refused with FailedCreate", async () => {
    const created = await cluster.api.create("/apis/apps/v1/namespaces/kit/statefulsets", statefulSet("bad", false));
    expect(created.warnings.join("\n")).toMatch(/would violate PodSecurity "restricted:latest"/);
    const events = await eventually(
      "a FailedCreate event",
      () => cluster.api.list<KubeObject & { reason: string; message: string }>("/api/v1/namespaces/kit/events"),
      (list) => list.some((e) => e.reason === "FailedCreate"),
    );
    expect(events.find((e) => e.reason === "FailedCreate")?.message).toMatch(/forbidden: violates PodSecurity "restricted:latest"/);
    expect(await cluster.api.list("/api/v1/namespaces/kit/pods?labelSelector=app%3Dbad")).toEqual([]);
  });

  it("stop() kills every process of the cluster and frees its port", async () => {
    const other = await TestKubeCluster.start({ controllerManager: false });
    const pids = spawnSync("pgrep", ["-f", other.dir], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await other.stop();
    expect(spawnSync("pgrep", ["-f", other.dir], { encoding: "utf8" }).stdout.trim()).toBe("");
    // Nothing listens on the API server's port any more (a fetch would fail on the test CA alone).
    expect(await canListen(Number(new URL(other.server).port))).toBe(true);
  }, 120_000);
});
