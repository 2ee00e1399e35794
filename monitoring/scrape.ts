// How Prometheus scrapes the exporter sidecars, and so which target labels every NATS series carries. The rules
// and the dashboard select on exactly these labels, so they are defined once here.

import { PORTS, SELECTOR_LABELS } from "../infra/clusterLayout";
import type { StackConfig } from "../infra/stackConfig";

/**
 * The `job` label of every NATS series. prometheus-operator would make it "<namespace>/<podmonitor>"; it is
 * pinned so rules and dashboards do not depend on the PodMonitor's name or on the scrape mechanism.
 */
export const METRICS_JOB = "fluo-queue-nats";
export const METRICS_PORT_NAME = "metrics";
export const SCRAPE_INTERVAL = "30s";
export const MONITORING_NAME = "nats";

/** Prometheus label selector body that picks this stack's NATS series (without braces). */
export function natsSelector(config: StackConfig): string {
  return `job="${METRICS_JOB}",namespace="${config.namespace}"`;
}

/** `key=value` strings of the stack config as a label map. */
export function parseLabelPairs(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export interface Relabeling {
  readonly action?: "replace" | "keep" | "drop" | "labeldrop";
  readonly sourceLabels?: readonly string[];
  readonly regex?: string;
  readonly targetLabel?: string;
  readonly replacement?: string;
}

export interface PodMonitor {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PodMonitor";
  readonly metadata: { name: string; namespace: string; labels: Record<string, string> };
  readonly spec: {
    readonly selector: { matchLabels: Record<string, string> };
    readonly namespaceSelector: { matchNames: string[] };
    readonly podMetricsEndpoints: readonly {
      port: string;
      path: string;
      interval: string;
      scrapeTimeout: string;
      relabelings: readonly Relabeling[];
    }[];
  };
}

export function monitoringLabels(config: StackConfig): Record<string, string> {
  return {
    ...SELECTOR_LABELS,
    "app.kubernetes.io/component": "monitoring",
    "app.kubernetes.io/part-of": "fluo",
    "app.kubernetes.io/managed-by": "pulumi",
    "fluo/environment": config.environment,
  };
}

/**
 * PodMonitor for the exporter port. prometheus-operator already adds namespace, pod, container and endpoint;
 * the relabelings pin `job` and make `instance` the pod name, which survives a pod restart (the pod IP does
 * not), so per-pod series such as the server start time stay one series across restarts.
 */
export function renderPodMonitor(config: StackConfig): PodMonitor {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: {
      name: MONITORING_NAME,
      namespace: config.namespace,
      labels: { ...monitoringLabels(config), ...parseLabelPairs(config.podMonitorLabels) },
    },
    spec: {
      selector: { matchLabels: { ...SELECTOR_LABELS } },
      namespaceSelector: { matchNames: [config.namespace] },
      podMetricsEndpoints: [
        {
          port: METRICS_PORT_NAME,
          path: "/metrics",
          interval: SCRAPE_INTERVAL,
          scrapeTimeout: "10s",
          relabelings: [
            { action: "replace", targetLabel: "job", replacement: METRICS_JOB },
            { action: "replace", sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "instance" },
          ],
        },
      ],
    },
  };
}

/**
 * The same scrape as a plain Prometheus `scrape_configs` entry, for clusters without prometheus-operator:
 * identical target labels (job, namespace, pod, container, endpoint, instance), so the same rules apply.
 */
export function renderScrapeConfig(config: StackConfig): Record<string, unknown> {
  const podLabel = (key: string) => `__meta_kubernetes_pod_label_${key.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const selectorKeys = Object.keys(SELECTOR_LABELS) as (keyof typeof SELECTOR_LABELS)[];
  return {
    job_name: METRICS_JOB,
    scrape_interval: SCRAPE_INTERVAL,
    scrape_timeout: "10s",
    metrics_path: "/metrics",
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [config.namespace] } }],
    relabel_configs: [
      {
        action: "keep",
        source_labels: [...selectorKeys.map(podLabel), "__meta_kubernetes_pod_container_port_name"],
        regex: [...selectorKeys.map((k) => SELECTOR_LABELS[k]), METRICS_PORT_NAME].join(";"),
      },
      { action: "keep", source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: String(PORTS.metrics) },
      { action: "replace", source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { action: "replace", source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      { action: "replace", source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
      { action: "replace", source_labels: ["__meta_kubernetes_pod_container_port_name"], target_label: "endpoint" },
      { action: "replace", source_labels: ["__meta_kubernetes_pod_name"], target_label: "instance" },
    ],
  };
}
