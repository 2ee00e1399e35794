// The Kubernetes objects of the NATS cluster as plain values. The Pulumi layer (infra/natsCluster.ts) registers
// them one by one; `npm run render` writes them as YAML. Neither adds or changes a field.

import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IIoK8sApiCoreV1Container as Container } from "kubernetes-models/v1/Container";
import type { IIoK8sApiCoreV1SecurityContext as SecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IIoK8sApiCoreV1TopologySpreadConstraint as TopologySpread } from "kubernetes-models/v1/TopologySpreadConstraint";
import { LAME_DUCK_GRACE_PERIOD, NAMES, PATHS, PORTS, SELECTOR_LABELS, serverDnsNames, TLS_FILES } from "./clusterLayout";
import { parseDuration } from "../lib/units";
import type { StackConfig } from "./stackConfig";

export interface KubernetesObjects {
  readonly namespace: INamespace;
  readonly serviceAccount: IServiceAccount;
  readonly configSecret: ISecret;
  readonly headlessService: IService;
  readonly clientService: IService;
  readonly statefulSet: IStatefulSet & { spec: NonNullable<IStatefulSet["spec"]> };
  readonly podDisruptionBudget: IPodDisruptionBudget;
  readonly networkPolicy: INetworkPolicy;
}

export interface ClusterRenderInput {
  readonly config: StackConfig;
  /** The complete nats.conf (it holds bcrypt hashes, so it travels in a Secret, not a ConfigMap). */
  readonly natsConf: string;
  /** From restartChecksum(): changes only when a restart-only part of nats.conf changes. */
  readonly restartChecksum: string;
}

export const RESTART_CHECKSUM_ANNOTATION = "fluo-queue/restart-config-checksum";

function commonLabels(config: StackConfig): Record<string, string> {
  return {
    ...SELECTOR_LABELS,
    "app.kubernetes.io/component": "nats",
    "app.kubernetes.io/part-of": "fluo",
    "app.kubernetes.io/managed-by": "pulumi",
    "fluo/environment": config.environment,
  };
}

const NON_ROOT_UID = 1000;
/**
 * The exporter's own uid and gid. With shareProcessNamespace (the reloader signals nats-server by pid) every
 * container sees the server's process, and a process of the same uid and gid may read /proc/<pid>/root/... and
 * /proc/<pid>/environ: the exporter could read nats.conf (bcrypt hashes, route credentials). Another uid and gid
 * fail the kernel's ptrace access check (no CAP_SYS_PTRACE: all capabilities dropped). The reloader keeps the
 * server's uid: sending SIGHUP needs it, and it mounts the config anyway.
 */
export const EXPORTER_UID = 1001;

// Restricted pod-security profile: non-root, read-only root, no capabilities, no privilege escalation.
const containerSecurity: SecurityContext = {
  runAsNonRoot: true,
  runAsUser: NON_ROOT_UID,
  runAsGroup: NON_ROOT_UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function metadata(config: StackConfig, name: string) {
  return { name, namespace: config.namespace, labels: commonLabels(config) };
}

/**
 * Seconds the kubelet waits before SIGKILL: the whole lame duck (grace period + duration) plus time for
 * JetStream to flush and step down. A shorter grace would cut lame duck short and drop clients instead of
 * moving them (60s for the 30s default).
 */
export function terminationGraceSeconds(lameDuckDuration: string): number {
  const nanos = (parseDuration(lameDuckDuration) ?? 0n) + (parseDuration(LAME_DUCK_GRACE_PERIOD) ?? 0n);
  return Math.ceil(Number(nanos) / 1e9) + 20;
}

/** GOMEMLIMIT at 90% of the container limit: the Go GC works harder before the kernel OOM-kills the pod. */
export function goMemLimit(memoryLimitBytes: number): string {
  return `${Math.floor((memoryLimitBytes * 0.9) / 2 ** 20)}MiB`;
}

/**
 * The /healthz variant each probe asks for (nats-server monitor.go):
 * - startup: JetStream enabled and current with the meta leader, no stream or consumer checked. The full /healthz
 *   also requires every local stream and consumer replica to be current; one that never catches up (its other
 *   replicas down, an idle consumer on older servers) would fail the 15-minute budget and restart the pod, again
 *   and again. Meta-only cannot loop on an asset (infra/probes.live.test.ts proves it on the pinned server);
 *   asset health is watched by the exporter's -healthz and the NatsServerUnhealthy alert instead.
 * - readiness: the server accepts connections (JetStream-level checks left out, so one bad stream never takes
 *   every pod out of the client Service).
 * - liveness: JetStream is enabled.
 */
export const PROBE_PATHS = {
  startup: "/healthz?js-meta-only=true",
  readiness: "/healthz?js-server-only=true",
  liveness: "/healthz?js-enabled-only=true",
} as const;

function natsContainer(input: ClusterRenderInput): Container {
  const { config } = input;
  const healthz = (path: string) => ({
    httpGet: { path, port: "monitor" },
  });
  return {
    name: "nats",
    image: config.natsImage,
    imagePullPolicy: "IfNotPresent",
    args: ["--config", PATHS.configFile],
    ports: [
      { name: "client", containerPort: PORTS.client },
      { name: "cluster", containerPort: PORTS.cluster },
      { name: "monitor", containerPort: PORTS.monitor },
      ...(config.region !== undefined ? [{ name: "leaf", containerPort: PORTS.leaf }] : []),
      ...(config.websocket ? [{ name: "websocket", containerPort: config.websocketPort }] : []),
    ],
    env: [
      { name: "SERVER_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "GOMEMLIMIT", value: goMemLimit(config.bytes.memoryLimit) },
    ],
    resources: {
      requests: { cpu: config.cpuRequest, memory: config.memoryRequest },
      limits: { memory: config.memoryLimit, ...(config.cpuLimit ? { cpu: config.cpuLimit } : {}) },
    },
    // A restarted node may need minutes to rejoin the meta group (replaying its log) before it is started.
    startupProbe: { ...healthz(PROBE_PATHS.startup), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 },
    readinessProbe: { ...healthz(PROBE_PATHS.readiness), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    livenessProbe: { ...healthz(PROBE_PATHS.liveness), periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
    lifecycle: {
      // Lame duck: clients move to the other servers before this one stops.
      preStop: { exec: { command: ["nats-server", `--signal=ldm=${PATHS.pidFile}`] } },
    },
    securityContext: containerSecurity,
    volumeMounts: [
      { name: "config", mountPath: PATHS.configDir, readOnly: true },
      { name: "data", mountPath: PATHS.dataDir },
      { name: "pid", mountPath: PATHS.pidDir },
      ...tlsMounts(config),
    ],
  };
}

const tlsMounts = (config: StackConfig) => [
  ...(config.tls === "off" ? [] : [{ name: "tls", mountPath: PATHS.tlsDir, readOnly: true }]),
  // A standby checks its primary's certificate against the primary's CA, when the two regions have two CAs.
  ...(config.tls !== "off" && config.peerCaSecretName ? [{ name: "peer-ca", mountPath: PATHS.peerCaDir, readOnly: true }] : []),
];

/** The files whose change must reach nats-server as a reload. */
export function reloaderWatchedFiles(config: StackConfig): string[] {
  return [PATHS.configFile, ...(config.tls === "off" ? [] : [TLS_FILES.certFile, TLS_FILES.keyFile, TLS_FILES.caFile])];
}

function reloaderContainer(config: StackConfig): Container {
  return {
    name: "reloader",
    image: config.reloaderImage,
    imagePullPolicy: "IfNotPresent",
    // Sends SIGHUP to nats-server when a watched file changes: users and permissions apply without restart, and
    // so do renewed certificates (cert-manager rewrites the TLS Secret; the server re-reads the files on reload).
    args: ["-pid", PATHS.pidFile, ...reloaderWatchedFiles(config).flatMap((f) => ["-config", f])],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } },
    securityContext: containerSecurity,
    volumeMounts: [
      { name: "config", mountPath: PATHS.configDir, readOnly: true },
      { name: "pid", mountPath: PATHS.pidDir },
      ...tlsMounts(config),
    ],
  };
}

/** The exporter's flags; every flag must precede the URL (a trailing flag is read as a second URL). */
export const EXPORTER_ARGS: readonly string[] = [
  `-port=${PORTS.metrics}`,
  "-connz",
  "-routez",
  "-subz",
  "-varz",
  "-healthz",
  "-prefix=nats",
  "-use_internal_server_id",
  "-jsz=all",
  `http://localhost:${PORTS.monitor}/`,
];

function exporterContainer(config: StackConfig): Container {
  return {
    name: "exporter",
    image: config.exporterImage,
    imagePullPolicy: "IfNotPresent",
    args: [...EXPORTER_ARGS],
    ports: [{ name: "metrics", containerPort: PORTS.metrics }],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
    securityContext: { ...containerSecurity, runAsUser: EXPORTER_UID, runAsGroup: EXPORTER_UID },
  };
}

function topologySpread(config: StackConfig): TopologySpread[] {
  const selector = { matchLabels: { ...SELECTOR_LABELS } };
  // Two replicas of an R3 stream on one node lose quorum with that node; prod refuses to co-locate them.
  const spread: TopologySpread[] = [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: config.requireHostSpread ? "DoNotSchedule" : "ScheduleAnyway",
      labelSelector: selector,
    },
  ];
  if (config.zoneSpread) {
    spread.push({ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: selector });
  }
  return spread;
}

function statefulSet(input: ClusterRenderInput): KubernetesObjects["statefulSet"] {
  const { config } = input;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: metadata(config, NAMES.statefulSet),
    spec: {
      replicas: config.replicas,
      serviceName: NAMES.headlessService,
      // Parallel: with OrderedReady, pod 0 waits to be ready, which needs a JetStream quorum, which needs pod 1.
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { ...SELECTOR_LABELS } },
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: {
          labels: commonLabels(config),
          annotations: { [RESTART_CHECKSUM_ANNOTATION]: input.restartChecksum },
        },
        spec: {
          serviceAccountName: NAMES.serviceAccount,
          automountServiceAccountToken: false,
          // The reloader signals nats-server by pid, so both containers share one process namespace.
          shareProcessNamespace: true,
          terminationGracePeriodSeconds: terminationGraceSeconds(config.lameDuckDuration),
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NON_ROOT_UID,
            runAsGroup: NON_ROOT_UID,
            fsGroup: NON_ROOT_UID,
            fsGroupChangePolicy: "OnRootMismatch",
            seccompProfile: { type: "RuntimeDefault" },
          },
          topologySpreadConstraints: topologySpread(config),
          containers: [natsContainer(input), reloaderContainer(config), exporterContainer(config)],
          volumes: [
            // Owner root, group fsGroup (the server's gid), no world bit: only the server's uid/gid can read it.
            { name: "config", secret: { secretName: NAMES.configSecret, defaultMode: 0o440 } },
            ...(config.tls === "off" ? [] : [{ name: "tls", secret: { secretName: config.tlsSecretName, defaultMode: 0o440 } }]),
            ...(config.tls !== "off" && config.peerCaSecretName ? [{ name: "peer-ca", secret: { secretName: config.peerCaSecretName, defaultMode: 0o440 } }] : []),
            { name: "pid", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "data", labels: { ...SELECTOR_LABELS } },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: config.storageSize } },
            ...(config.storageClass ? { storageClassName: config.storageClass } : {}),
          },
        },
      ],
    },
  };
}

/** DNS, wherever the cluster serves it (kube-dns pods, a node-local cache on a link-local address). */
export const DNS_PORTS = [
  { protocol: "UDP", port: 53 },
  { protocol: "TCP", port: 53 },
] as const;

/**
 * Ingress: clients on the client port from the listed namespaces, routes between NATS pods, the exporter's metrics
 * from the monitoring namespace. Nobody reaches the monitor port (8222, plain HTTP without authentication, with
 * connections, users and subscriptions): the exporter reads it over localhost and the kubelet's probes are not
 * subject to NetworkPolicy. Egress: DNS and the routes to the other NATS pods, nothing else (issue 19).
 */
function networkPolicy(config: StackConfig): INetworkPolicy {
  const nsSelector = (ns: string) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } });
  const natsPods = { podSelector: { matchLabels: { ...SELECTOR_LABELS } } };
  const clientNamespaces = [config.namespace, ...config.clientNamespaces];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadata(config, NAMES.networkPolicy),
    spec: {
      podSelector: { matchLabels: { ...SELECTOR_LABELS } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        // Clients: only the namespaces listed in clientNamespaces (and this one, for `pulumi up` helpers).
        { from: clientNamespaces.map(nsSelector), ports: [{ protocol: "TCP", port: PORTS.client }] },
        // Routes: only between NATS pods.
        { from: [natsPods], ports: [{ protocol: "TCP", port: PORTS.cluster }] },
        // Metrics: only from the monitoring namespace.
        { from: [nsSelector(config.monitoringNamespace)], ports: [{ protocol: "TCP", port: PORTS.metrics }] },
        // Regions: the peer region's leafnode, from where it comes (a load balancer or the peer's egress addresses).
        ...(config.region !== undefined ? [{ from: config.leafSourceCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP" as const, port: PORTS.leaf }] }] : []),
        // Browsers: only through the namespaces named in websocketNamespaces (the ingress controller's), never
        // from clientNamespaces' pods, which have the client port.
        ...(config.websocket ? [{ from: config.websocketNamespaces.map(nsSelector), ports: [{ protocol: "TCP" as const, port: config.websocketPort }] }] : []),
      ],
      egress: [
        // Route names (nats-<i>.nats-headless...) resolve through the cluster's DNS; its address differs between
        // clusters (a kube-dns Service, a node-local cache), so the port is the rule.
        { ports: DNS_PORTS.map((p) => ({ ...p })) },
        { to: [natsPods], ports: [{ protocol: "TCP", port: PORTS.cluster }] },
        // A standby dials its primary's leafnode listener, wherever that is (its URL's port).
        ...(config.regionRole === "standby" && config.peerLeafUrls.length > 0
          ? [{ ports: [...new Set(config.peerLeafUrls.map((u) => Number(new URL(u).port)))].map((port) => ({ protocol: "TCP" as const, port })) }]
          : []),
      ],
    },
  };
}

export function renderKubernetesObjects(input: ClusterRenderInput): KubernetesObjects {
  const { config } = input;
  return {
    namespace: {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: config.namespace,
        labels: {
          "app.kubernetes.io/part-of": "fluo",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    },
    serviceAccount: {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: metadata(config, NAMES.serviceAccount),
      automountServiceAccountToken: false,
    },
    configSecret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: metadata(config, NAMES.configSecret),
      type: "Opaque",
      stringData: { "nats.conf": input.natsConf },
    },
    headlessService: {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(config, NAMES.headlessService),
      spec: {
        clusterIP: "None",
        // Peers must resolve each other before they are ready, or the first quorum never forms.
        publishNotReadyAddresses: true,
        selector: { ...SELECTOR_LABELS },
        ports: [
          { name: "client", port: PORTS.client, targetPort: "client", appProtocol: "tcp" },
          { name: "cluster", port: PORTS.cluster, targetPort: "cluster", appProtocol: "tcp" },
          // No monitor port: it is for the exporter (localhost) and the kubelet's probes only.
          { name: "metrics", port: PORTS.metrics, targetPort: "metrics", appProtocol: "http" },
        ],
      },
    },
    clientService: {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(config, NAMES.clientService),
      spec: {
        type: "ClusterIP",
        selector: { ...SELECTOR_LABELS },
        ports: [
          { name: "client", port: PORTS.client, targetPort: "client", appProtocol: "tcp" },
          // What an Ingress (or Gateway) for browsers routes to; the same Service, so no new resource.
          ...(config.websocket ? [{ name: "websocket", port: config.websocketPort, targetPort: "websocket", appProtocol: config.websocketNoTls || config.tls === "off" ? "kubernetes.io/ws" : "kubernetes.io/wss" }] : []),
        ],
      },
    },
    statefulSet: statefulSet(input),
    podDisruptionBudget: {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: metadata(config, NAMES.podDisruptionBudget),
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...SELECTOR_LABELS } } },
    },
    networkPolicy: networkPolicy(config),
  };
}

/** A region's leafnode listener as a Service the peer region reaches (leafServiceType); none without a region. */
export function renderRegionObjects(config: StackConfig): IService[] {
  if (config.region === undefined) return [];
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(config, NAMES.leafService),
      spec: {
        type: config.leafServiceType,
        selector: { ...SELECTOR_LABELS },
        ports: [{ name: "leaf", port: PORTS.leaf, targetPort: "leaf", appProtocol: "tcp" }],
      },
    },
  ];
}

/** A cert-manager object (cert-manager.io/v1), as plain data. */
export interface CertManagerObject {
  readonly apiVersion: "cert-manager.io/v1";
  readonly kind: "Issuer" | "ClusterIssuer" | "Certificate";
  /** No namespace for a ClusterIssuer. */
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

/**
 * The cluster's own CA and the servers' certificate, issued by cert-manager (tls: cert-manager): a self-signed
 * Issuer signs the CA Certificate, a CA Issuer signs the server Certificate into the TLS Secret (tls.crt, tls.key
 * and ca.crt), which the pods mount. One certificate serves clients (the Service names) and routes (the headless
 * names); "client auth" because a server presents it when it opens a route. Empty for the other modes.
 */
export function renderCertManagerObjects(config: StackConfig): CertManagerObject[] {
  if (config.tls !== "cert-manager") return [];
  const ecdsa = { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" };
  // The CA (its key in a Secret) lives beside the servers unless tlsCaNamespace moves it, with a ClusterIssuer
  // (whose CA Secret cert-manager reads from its own namespace) signing the servers' certificate.
  const caNamespace = config.tlsCaNamespace ?? config.namespace;
  const caMeta = (name: string) => ({ ...metadata(config, name), namespace: caNamespace });
  const caIssuer: CertManagerObject =
    config.tlsCaNamespace === undefined
      ? { apiVersion: "cert-manager.io/v1", kind: "Issuer", metadata: metadata(config, NAMES.caIssuer), spec: { ca: { secretName: NAMES.caCertificate } } }
      : {
          apiVersion: "cert-manager.io/v1",
          kind: "ClusterIssuer",
          metadata: { name: clusterIssuerName(config), labels: commonLabels(config) },
          spec: { ca: { secretName: NAMES.caCertificate } },
        };
  const objects: CertManagerObject[] = [
    { apiVersion: "cert-manager.io/v1", kind: "Issuer", metadata: caMeta(NAMES.selfSignedIssuer), spec: { selfSigned: {} } },
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: caMeta(NAMES.caCertificate),
      spec: {
        isCA: true,
        commonName: `${config.clusterName} NATS CA`,
        secretName: NAMES.caCertificate,
        duration: "43800h",
        renewBefore: "8760h",
        privateKey: ecdsa,
        issuerRef: { name: NAMES.selfSignedIssuer, kind: "Issuer", group: "cert-manager.io" },
      },
    },
    caIssuer,
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: metadata(config, NAMES.serverCertificate),
      spec: {
        secretName: config.tlsSecretName,
        duration: "2160h",
        renewBefore: "720h",
        dnsNames: serverDnsNames(config),
        ipAddresses: ["127.0.0.1"],
        usages: ["server auth", "client auth", "digital signature", "key encipherment"],
        privateKey: ecdsa,
        issuerRef: { name: caIssuer.metadata.name, kind: caIssuer.kind, group: "cert-manager.io" },
      },
    },
  ];
  return objects;
}

/** A ClusterIssuer is cluster-wide: its name carries the namespace, so two stacks in one cluster do not collide. */
export function clusterIssuerName(config: StackConfig): string {
  return `${config.namespace}-${NAMES.caIssuer}`;
}
