// Names, ports and paths that the Kubernetes objects and nats.conf must agree on, in one place.

import type { NatsTopology } from "./natsConfig";
import type { StackConfig } from "./stackConfig";

export const PORTS = { client: 4222, cluster: 6222, monitor: 8222, metrics: 7777, leaf: 7422 } as const;

export const NAMES = {
  statefulSet: "nats",
  headlessService: "nats-headless",
  clientService: "nats",
  configSecret: "nats-config",
  serviceAccount: "nats",
  /** The leafnode listener of a region, for the peer region's standby. */
  leafService: "nats-leaf",
  podDisruptionBudget: "nats",
  networkPolicy: "nats",
  /** cert-manager objects (tls: cert-manager): a self-signed root, the cluster's CA and its Issuer. */
  selfSignedIssuer: "nats-selfsigned",
  caCertificate: "nats-ca",
  caIssuer: "nats-ca",
  serverCertificate: "nats-server",
} as const;

export const PATHS = {
  configDir: "/etc/nats-config",
  configFile: "/etc/nats-config/nats.conf",
  dataDir: "/data",
  pidDir: "/var/run/nats",
  pidFile: "/var/run/nats/nats.pid",
  tlsDir: "/etc/nats-tls",
  /** The peer region's CA (peerCaSecretName), for the leafnode's TLS. */
  peerCaDir: "/etc/nats-peer-ca",
} as const;

/** Where a standby reads its primary's CA certificate (the peerCaSecretName Secret's ca.crt). */
export const PEER_CA_FILE = `${PATHS.peerCaDir}/ca.crt`;

/** Where the servers read their certificate, key and CA (the TLS Secret's keys, mounted at PATHS.tlsDir). */
export const TLS_FILES = {
  certFile: `${PATHS.tlsDir}/tls.crt`,
  keyFile: `${PATHS.tlsDir}/tls.key`,
  caFile: `${PATHS.tlsDir}/ca.crt`,
} as const;

/** Time a stopping server waits in lame duck before it starts moving clients away. */
export const LAME_DUCK_GRACE_PERIOD = "10s";

/** Labels that select the NATS pods; never change them (a StatefulSet selector is immutable). */
export const SELECTOR_LABELS = { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "fluo-queue" } as const;

export function podName(ordinal: number): string {
  return `${NAMES.statefulSet}-${ordinal}`;
}

/** `nats://nats-<i>.nats-headless.<ns>.svc.cluster.local:6222` for every replica. */
export function kubernetesRoutes(config: StackConfig): string[] {
  return Array.from(
    { length: config.replicas },
    (_, i) => `nats://${podName(i)}.${NAMES.headlessService}.${config.namespace}.svc.cluster.local:${PORTS.cluster}`,
  );
}

/** In-cluster client URL of the cluster (through the client Service); `tls://` when TLS is on. */
export function clientUrl(config: StackConfig): string {
  const scheme = config.tls === "off" ? "nats" : "tls";
  return `${scheme}://${NAMES.clientService}.${config.namespace}.svc.cluster.local:${PORTS.client}`;
}

/** Every name a client or peer may use for a server: the certificate's DNS names. */
export function serverDnsNames(config: StackConfig): string[] {
  const ns = config.namespace;
  const svc = NAMES.clientService;
  const headless = NAMES.headlessService;
  return [
    svc,
    `${svc}.${ns}`,
    `${svc}.${ns}.svc`,
    `${svc}.${ns}.svc.cluster.local`,
    `*.${headless}`,
    `*.${headless}.${ns}`,
    `*.${headless}.${ns}.svc`,
    `*.${headless}.${ns}.svc.cluster.local`,
    // `kubectl port-forward` (pulumi up, drift, runbooks) connects to localhost.
    "localhost",
    // Two regions: the names the peer region dials for the leafnode listener (it checks them on TLS).
    ...config.leafHostnames,
  ];
}

/** The topology of one pod: one config serves all pods, server_name comes from the pod name at start. */
export function kubernetesTopology(config: StackConfig): NatsTopology {
  return {
    serverName: "$SERVER_NAME",
    host: "0.0.0.0",
    clientPort: PORTS.client,
    clusterPort: PORTS.cluster,
    monitorPort: PORTS.monitor,
    // A single server runs JetStream unclustered; a cluster block would wait for a meta quorum of peers.
    routes: config.replicas > 1 ? kubernetesRoutes(config) : [],
    storeDir: PATHS.dataDir,
    pidFile: PATHS.pidFile,
    ...(config.region !== undefined ? { leafPort: PORTS.leaf } : {}),
    ...(config.websocket ? { websocketPort: config.websocketPort } : {}),
  };
}
