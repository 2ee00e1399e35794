import { describe, expect, it } from "vitest";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { REDACTED_HASHES } from "./passwordHash";
import { renderCluster } from "./renderCluster";
import { userGrants } from "./userGrants";
import { renderCertManagerObjects, RESTART_CHECKSUM_ANNOTATION, type KubernetesObjects } from "./kubernetesObjects";
import { imageTagVersion, parseStackConfig } from "./stackConfig";
import { readStackConfig } from "./stackFile";

function objectsOf(raw: Record<string, unknown> = {}): KubernetesObjects {
  return renderCluster(parseStackConfig("t", raw), userGrants(), REDACTED_HASHES).objects;
}

describe("Kubernetes objects", () => {
  // Excess fields are caught at compile time (the renderers return kubernetes-models' interfaces); the
  // OpenAPI validation here catches wrong types, enum values, required fields and formats.
  for (const stack of ["dev", "prod"]) {
    it(`validate against the Kubernetes OpenAPI schema (${stack})`, () => {
      const o = renderCluster(readStackConfig(stack), userGrants(), REDACTED_HASHES).objects;
      expect(() => new Namespace(o.namespace).validate()).not.toThrow();
      expect(() => new ServiceAccount(o.serviceAccount).validate()).not.toThrow();
      expect(() => new Secret(o.configSecret).validate()).not.toThrow();
      expect(() => new Service(o.headlessService).validate()).not.toThrow();
      expect(() => new Service(o.clientService).validate()).not.toThrow();
      expect(() => new StatefulSet(o.statefulSet).validate()).not.toThrow();
      expect(() => new PodDisruptionBudget(o.podDisruptionBudget).validate()).not.toThrow();
      expect(() => new NetworkPolicy(o.networkPolicy).validate()).not.toThrow();
    });
  }

  it("the schema validation can fail (a wrong type is caught)", () => {
    const sts = objectsOf().statefulSet;
    const broken = { ...sts, spec: { ...sts.spec, replicas: "3" as unknown as number } };
    expect(() => new StatefulSet(broken).validate()).toThrow(/replicas/);
  });

  it("StatefulSet: explicit name, parallel start, retained volumes, headless service", () => {
    const { statefulSet, headlessService } = objectsOf();
    expect(statefulSet.metadata?.name).toBe("nats");
    expect(statefulSet.metadata?.namespace).toBe("fluo-queue");
    expect(statefulSet.spec.replicas).toBe(3);
    expect(statefulSet.spec.podManagementPolicy).toBe("Parallel");
    expect(statefulSet.spec.serviceName).toBe(headlessService.metadata?.name);
    expect(statefulSet.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(statefulSet.spec.volumeClaimTemplates?.[0].spec?.resources?.requests?.storage).toBe("12Gi");
    expect(headlessService.spec?.clusterIP).toBe("None");
    expect(headlessService.spec?.publishNotReadyAddresses).toBe(true);
    expect(headlessService.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ["client", 4222],
      ["cluster", 6222],
      ["metrics", 7777],
    ]);
  });

  it("nats container: healthz probes, lame duck, memory consistent with JetStream, restricted security", () => {
    const pod = objectsOf().statefulSet.spec.template.spec!;
    const nats = pod.containers.find((c) => c.name === "nats")!;
    expect(nats.startupProbe?.httpGet?.path).toBe("/healthz?js-meta-only=true");
    expect(nats.startupProbe?.failureThreshold).toBe(90);
    expect(nats.readinessProbe?.httpGet?.path).toBe("/healthz?js-server-only=true");
    expect(nats.livenessProbe?.httpGet?.path).toBe("/healthz?js-enabled-only=true");
    expect(nats.lifecycle?.preStop?.exec?.command).toEqual(["nats-server", "--signal=ldm=/var/run/nats/nats.pid"]);
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    // A longer lame duck gets a longer grace, so the kubelet never kills a server halfway through it.
    expect(objectsOf({ lameDuckDuration: "2m" }).statefulSet.spec.template.spec!.terminationGracePeriodSeconds).toBe(150);
    expect(nats.resources?.limits?.memory).toBe("2Gi");
    expect(nats.env).toContainEqual({ name: "GOMEMLIMIT", value: "1843MiB" });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.shareProcessNamespace).toBe(true);
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(c.image).not.toMatch(/:latest$/);
    }
    expect(nats.volumeMounts?.find((m) => m.name === "data")?.mountPath).toBe("/data");
  });

  it("abuse path 8: the exporter cannot read nats.conf through the shared process namespace", () => {
    const pod = objectsOf().statefulSet.spec.template.spec!;
    const byName = (name: string) => pod.containers.find((c) => c.name === name)!;
    const nats = byName("nats").securityContext!;
    const exporter = byName("exporter").securityContext!;
    // Another uid AND gid: /proc/<nats pid>/root and /environ fail the kernel's ptrace access check.
    expect(exporter.runAsUser).not.toBe(nats.runAsUser);
    expect(exporter.runAsGroup).not.toBe(nats.runAsGroup);
    expect(exporter.capabilities?.drop).toEqual(["ALL"]);
    expect(byName("exporter").volumeMounts ?? []).toEqual([]);
    // The reloader must signal nats-server, so it keeps its uid; it mounts the config anyway.
    expect(byName("reloader").securityContext!.runAsUser).toBe(nats.runAsUser);
    const config = pod.volumes!.find((v) => v.name === "config")!;
    expect(config.secret?.defaultMode).toBe(0o440);
  });

  it("sidecars: config reloader and exporter with every flag before the URL", () => {
    const pod = objectsOf().statefulSet.spec.template.spec!;
    expect(pod.containers.map((c) => c.name)).toEqual(["nats", "reloader", "exporter"]);
    const exporter = pod.containers.find((c) => c.name === "exporter")!;
    const args = exporter.args!;
    expect(args[args.length - 1]).toBe("http://localhost:8222/");
    expect(args.slice(0, -1).every((a) => a.startsWith("-"))).toBe(true);
    expect(args).toEqual(expect.arrayContaining(["-healthz", "-jsz=all", "-prefix=nats", "-port=7777"]));
    expect(pod.containers.find((c) => c.name === "reloader")!.args).toEqual([
      "-pid",
      "/var/run/nats/nats.pid",
      "-config",
      "/etc/nats-config/nats.conf",
    ]);
  });

  it("spreads pods across nodes (required by default), optionally across zones", () => {
    const strict = objectsOf().statefulSet.spec.template.spec!.topologySpreadConstraints!;
    expect(strict).toHaveLength(1);
    expect(strict[0]).toMatchObject({ topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" });
    const zoned = objectsOf({ zoneSpread: true, requireHostSpread: false }).statefulSet.spec.template.spec!.topologySpreadConstraints!;
    expect(zoned.map((t) => [t.topologyKey, t.whenUnsatisfiable])).toEqual([
      ["kubernetes.io/hostname", "ScheduleAnyway"],
      ["topology.kubernetes.io/zone", "ScheduleAnyway"],
    ]);
  });

  it("PDB allows one pod down; NetworkPolicy limits each port to its peers, the monitor port to nobody, egress to DNS and routes", () => {
    const { podDisruptionBudget, networkPolicy } = objectsOf({ clientNamespaces: ["fluo", "api"], monitoringNamespace: "observability" });
    expect(podDisruptionBudget.spec?.maxUnavailable).toBe(1);
    expect(networkPolicy.spec!.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(networkPolicy.spec!.ingress!.flatMap((r) => r.ports!.map((p) => p.port))).not.toContain(8222);
    const [dns, peers, ...more] = networkPolicy.spec!.egress!;
    expect(more).toEqual([]);
    expect(dns).toEqual({ ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] });
    expect(peers).toEqual({ to: [{ podSelector: { matchLabels: networkPolicy.spec!.podSelector.matchLabels } }], ports: [{ protocol: "TCP", port: 6222 }] });
    const [clients, routes, monitoring] = networkPolicy.spec!.ingress!;
    const namespaces = (rule: typeof clients) => rule.from!.map((f) => f.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"]);
    expect(clients.ports).toEqual([{ protocol: "TCP", port: 4222 }]);
    expect(namespaces(clients)).toEqual(["fluo-queue", "fluo", "api"]);
    expect(routes.ports).toEqual([{ protocol: "TCP", port: 6222 }]);
    expect(routes.from).toEqual([{ podSelector: { matchLabels: networkPolicy.spec!.podSelector.matchLabels } }]);
    expect(monitoring.ports?.map((p) => p.port)).toEqual([7777]);
    expect(namespaces(monitoring)).toEqual(["observability"]);
  });

  it("namespace enforces the restricted pod-security profile; the service account mounts no token", () => {
    const { namespace, serviceAccount } = objectsOf();
    expect(namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(serviceAccount.automountServiceAccountToken).toBe(false);
  });

  it("the restart checksum annotation moves with restart-only settings only", () => {
    const annotation = (raw: Record<string, unknown>) =>
      objectsOf(raw).statefulSet.spec.template.metadata?.annotations?.[RESTART_CHECKSUM_ANNOTATION];
    expect(annotation({})).toMatch(/^[0-9a-f]{64}$/);
    expect(annotation({ maxMemoryStore: "512MiB" })).not.toBe(annotation({}));
    expect(annotation({ clientNamespaces: ["other"] })).toBe(annotation({}));
  });
});

describe("cert-manager objects (tls: cert-manager)", () => {
  const byKind = (raw: Record<string, unknown>) => renderCertManagerObjects(parseStackConfig("t", { tls: "cert-manager", ...raw }));

  it("keep the CA and its key beside the servers by default, signed by a namespaced Issuer", () => {
    const objects = byKind({});
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      "Issuer/fluo-queue/nats-selfsigned",
      "Certificate/fluo-queue/nats-ca",
      "Issuer/fluo-queue/nats-ca",
      "Certificate/fluo-queue/nats-server",
    ]);
  });

  it("with tlsCaNamespace, put the CA's key in cert-manager's namespace: the NATS namespace holds only the servers' certificate", () => {
    const objects = byKind({ tlsCaNamespace: "cert-manager" });
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? "(cluster)"}/${o.metadata.name}`)).toEqual([
      "Issuer/cert-manager/nats-selfsigned",
      "Certificate/cert-manager/nats-ca",
      "ClusterIssuer/(cluster)/fluo-queue-nats-ca",
      "Certificate/fluo-queue/nats-server",
    ]);
    expect(objects[3].spec.issuerRef).toEqual({ name: "fluo-queue-nats-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
    expect(objects.filter((o) => o.metadata.namespace === "fluo-queue").map((o) => o.spec.secretName)).toEqual(["nats-tls"]);
  });
});

describe("images", () => {
  it("take a tag, a tag with its digest, or a digest; the tag's version is still read for the version check", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    expect(parseStackConfig("t", { natsImage: `nats:2.15.3-alpine@${digest}` }).natsImage).toBe(`nats:2.15.3-alpine@${digest}`);
    expect(imageTagVersion(`nats:2.15.3-alpine@${digest}`)).toBe("2.15.3");
    expect(imageTagVersion(`nats@${digest}`)).toBeUndefined();
    expect(parseStackConfig("t", { exporterImage: `natsio/prometheus-nats-exporter@${digest}` }).exporterImage).toContain(digest);
  });
});

describe("the WebSocket listener (issue 23)", () => {
  const on = { websocket: true, websocketNoTls: true, websocketAllowedOrigins: ["http://localhost:8080"], websocketNamespaces: ["ingress-nginx", "gateway"] };

  it("opens the port on the pods and the client Service, and admits it from websocketNamespaces only", () => {
    const o = objectsOf({ ...on, clientNamespaces: ["fluo"], websocketPort: 9443 });
    expect(() => new Service(o.clientService).validate()).not.toThrow();
    expect(() => new NetworkPolicy(o.networkPolicy).validate()).not.toThrow();
    expect(o.statefulSet.spec!.template.spec!.containers[0].ports).toContainEqual({ name: "websocket", containerPort: 9443 });
    expect(o.clientService.spec!.ports).toContainEqual({ name: "websocket", port: 9443, targetPort: "websocket", appProtocol: "kubernetes.io/ws" });
    const rules = o.networkPolicy.spec!.ingress!.filter((r) => r.ports!.some((p) => p.port === 9443));
    expect(rules).toEqual([
      {
        from: ["ingress-nginx", "gateway"].map((ns) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } })),
        ports: [{ protocol: "TCP", port: 9443 }],
      },
    ]);
  });

  it("has no WebSocket port anywhere when it is off", () => {
    const o = objectsOf({});
    expect(JSON.stringify([o.clientService, o.networkPolicy, o.statefulSet])).not.toContain("websocket");
    expect(JSON.stringify(o.networkPolicy)).not.toContain("8443");
  });
});
