// Names, ports and paths that the Kubernetes objects and nats.conf must agree on, in one place.

import type { NatsTopology } from "./natsConfig";
import type { StackConfig } from "./stackConfig";

export const PORTS = { client: 4222, cluster: 6222, monitor: 8222, metrics: 7777 } as const;

export const NAMES = {
  statefulSet: "nats",
  headlessService: "nats-headless",
  clientService: "nats",
  configSecret: "nats-config",
  serviceAccount: "nats",
  podDisruptionBudget: "nats",
  networkPolicy: "nats",
} as const;

export const PATHS = {
  configDir: "/etc/nats-config",
  configFile: "/etc/nats-config/nats.conf",
  dataDir: "/data",
  pidDir: "/var/run/nats",
  pidFile: "/var/run/nats/nats.pid",
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

/** In-cluster client URL of the cluster (through the client Service). */
export function clientUrl(config: StackConfig): string {
  return `nats://${NAMES.clientService}.${config.namespace}.svc.cluster.local:${PORTS.client}`;
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
  };
}
