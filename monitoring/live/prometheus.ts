// A real Prometheus 3 server for the live monitoring runs: 127.0.0.1, a random port, a temporary TSDB, the
// stack's rules (a test copy with every `for` shortened) and a scrape config that gives the local exporters the
// labels the PodMonitor gives them in Kubernetes. Plus the HTTP API calls the runs make.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { PORTS, SELECTOR_LABELS } from "../../infra/clusterLayout";
import { durationNanos, formatDuration } from "../../lib/units";
import { freePort } from "../../local/localCluster";
import { requireBinary, type ToolBinary } from "../../tools/resolve";
import type { RuleFile } from "../rules";
import { METRICS_PORT_NAME, type PodMonitor, type Relabeling } from "../scrape";
import { httpGet, startProcess, tail, waitFor, type ManagedProcess } from "./processes";

/** The Prometheus 3 server binary (the pinned build unless PROMETHEUS_BIN or PATH say otherwise). */
export const PROMETHEUS_SERVER: ToolBinary = { tool: "prometheus", binary: "prometheus", envVar: "PROMETHEUS_BIN" };

/** A scrape target standing in for one NATS pod: its exporter's loopback address and the pod it plays. */
export interface LocalTarget {
  readonly pod: string;
  readonly address: string;
}

/** The exporter sidecar's container name in the StatefulSet (infra/kubernetesObjects.ts). */
const EXPORTER_CONTAINER = "exporter";
const metaLabel = (key: string) => key.replace(/[^A-Za-z0-9_]/g, "_");

/**
 * Static targets carrying the `__meta_kubernetes_*` labels Kubernetes pod discovery gives each exporter container
 * port of the StatefulSet, so a scrape config's relabelings run on them exactly as in the cluster.
 */
export function staticPods(namespace: string, targets: readonly LocalTarget[]): Record<string, unknown>[] {
  return targets.map((t) => ({
    targets: [t.address],
    labels: {
      __meta_kubernetes_namespace: namespace,
      __meta_kubernetes_pod_name: t.pod,
      __meta_kubernetes_pod_container_name: EXPORTER_CONTAINER,
      __meta_kubernetes_pod_container_port_name: METRICS_PORT_NAME,
      __meta_kubernetes_pod_container_port_number: String(PORTS.metrics),
      ...Object.fromEntries(
        Object.entries(SELECTOR_LABELS).flatMap(([k, v]) => [
          [`__meta_kubernetes_pod_label_${metaLabel(k)}`, v],
          [`__meta_kubernetes_pod_labelpresent_${metaLabel(k)}`, "true"],
        ]),
      ),
    },
  }));
}

/** The rendered plain scrape config (prometheusOperator: false) with its Kubernetes SD swapped for staticPods(). */
export function plainScrapeConfig(rendered: Record<string, unknown>, namespace: string, targets: readonly LocalTarget[], interval: string): Record<string, unknown> {
  const { kubernetes_sd_configs: _sd, ...rest } = rendered;
  void _sd;
  return { ...rest, scrape_interval: interval, scrape_timeout: interval, static_configs: staticPods(namespace, targets) };
}

/**
 * What prometheus-operator generates for the PodMonitor (selector and port keeps, namespace/container/pod,
 * job "<namespace>/<name>", endpoint, then the PodMonitor's own relabelings), fed by static targets that carry
 * the `__meta_kubernetes_*` labels Kubernetes service discovery would give each pod. The resulting target
 * labels are the ones the rules and the dashboard see in a cluster.
 */
export function podMonitorScrapeConfig(podMonitor: PodMonitor, targets: readonly LocalTarget[], interval: string): Record<string, unknown> {
  const endpoint = podMonitor.spec.podMetricsEndpoints[0];
  const selector = podMonitor.spec.selector.matchLabels;
  const relabel = (r: Relabeling) => ({
    ...(r.action ? { action: r.action } : {}),
    ...(r.sourceLabels ? { source_labels: [...r.sourceLabels] } : {}),
    ...(r.regex ? { regex: r.regex } : {}),
    ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
  });
  return {
    job_name: `podMonitor/${podMonitor.metadata.namespace}/${podMonitor.metadata.name}/0`,
    scrape_interval: interval,
    scrape_timeout: interval,
    metrics_path: endpoint.path,
    static_configs: staticPods(podMonitor.metadata.namespace, targets),
    relabel_configs: [
      ...Object.entries(selector).map(([k, v]) => ({
        action: "keep",
        source_labels: [`__meta_kubernetes_pod_label_${metaLabel(k)}`, `__meta_kubernetes_pod_labelpresent_${metaLabel(k)}`],
        regex: `(${v});true`,
      })),
      { action: "keep", source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: endpoint.port },
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      { target_label: "job", replacement: `${podMonitor.metadata.namespace}/${podMonitor.metadata.name}` },
      { target_label: "endpoint", replacement: endpoint.port },
      ...endpoint.relabelings.map(relabel),
    ],
  };
}

/**
 * The rules with every `for` divided by `factor` (default: minutes become seconds), at least 1s: the test copy
 * only; the expressions, ranges, labels and annotations stay as rendered.
 */
export function withShortenedFor(rules: RuleFile, factor = 60): RuleFile {
  return {
    groups: rules.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => {
        if (!("for" in r) || r.for === undefined) return r;
        const nanos = durationNanos(r.for);
        if (nanos === undefined) throw new Error(`rule ${r.alert}: cannot read for: ${r.for}`);
        return { ...r, for: formatDuration(Math.max(1e9, Math.round(nanos / factor / 1e9) * 1e9)) };
      }),
    })),
  };
}

export interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: [number, string][];
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: "pending" | "firing";
}

export interface PrometheusServer {
  readonly url: string;
  readonly process: ManagedProcess;
  query(expr: string): Promise<PromSeries[]>;
  rangeQuery(expr: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<PromSeries[]>;
  labelValues(label: string, match: string): Promise<string[]>;
  alerts(): Promise<PromAlert[]>;
  /** Scrape health per pod label, from /api/v1/targets. */
  targetHealth(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  readonly status: "success" | "error";
  readonly data: T;
  readonly error?: string;
}

export interface PrometheusOptions {
  readonly dir: string;
  readonly scrapeConfigs: readonly Record<string, unknown>[];
  readonly rules: RuleFile;
  readonly evaluationInterval: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = requireBinary(PROMETHEUS_SERVER).path;
  mkdirSync(join(options.dir, "data"), { recursive: true });
  const config = join(options.dir, "prometheus.yml");
  writeFileSync(join(options.dir, "rules.yaml"), stringify(options.rules, { lineWidth: 0 }));
  writeFileSync(
    config,
    stringify({ global: { evaluation_interval: options.evaluationInterval }, rule_files: ["rules.yaml"], scrape_configs: options.scrapeConfigs }, { lineWidth: 0 }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(options.dir, "prometheus.log");
  const proc = startProcess("prometheus", binary, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(options.dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], logPath);
  const api = async <T>(path: string): Promise<T> => {
    const answer = JSON.parse(await httpGet(`${url}${path}`)) as ApiAnswer<T>;
    if (answer.status !== "success") throw new Error(`${path}: ${answer.error}`);
    return answer.data;
  };
  try {
    await waitFor(`Prometheus ready on ${url} (log ${logPath})`, 30_000, async () => {
      if (proc.exited) throw new Error(`exited:\n${tail(logPath)}`);
      await httpGet(`${url}/-/ready`);
      return true;
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const q = encodeURIComponent;
  return {
    url,
    process: proc,
    async query(expr) {
      return (await api<{ result: PromSeries[] }>(`/api/v1/query?query=${q(expr)}`)).result;
    },
    async rangeQuery(expr, start, end, step) {
      return (await api<{ result: PromSeries[] }>(`/api/v1/query_range?query=${q(expr)}&start=${start}&end=${end}&step=${step}`)).result;
    },
    async labelValues(label, match) {
      return api<string[]>(`/api/v1/label/${q(label)}/values?match[]=${q(match)}`);
    },
    async alerts() {
      return (await api<{ alerts: PromAlert[] }>("/api/v1/alerts")).alerts;
    },
    async targetHealth() {
      const data = await api<{ activeTargets: { labels: Record<string, string>; health: string }[] }>("/api/v1/targets?state=active");
      return Object.fromEntries(data.activeTargets.map((t) => [t.labels.pod, t.health]));
    },
    stop: () => proc.stop(),
  };
}
