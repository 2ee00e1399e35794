// The monitoring objects as plain values: scrape (PodMonitor, or a scrape config), rules (PrometheusRule, or a
// rules file in a ConfigMap) and the dashboard ConfigMap for Grafana's sidecar. alerts/monitoring.ts registers
// them; `npm run render` writes them (alertFiles) so reviewers can diff rules and dashboard.

import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { stringify } from "yaml";
import type { StackConfig } from "../infra/stackConfig";
import { renderDashboard } from "./dashboard";
import { renderAlertRules, type RuleFile } from "./rules";
import { METRICS_JOB, MONITORING_NAME, monitoringLabels, parseLabelPairs, renderPodMonitor, renderScrapeConfig, type PodMonitor } from "./scrape";
import type { AlertTargets } from "./targets";

export interface PrometheusRule {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PrometheusRule";
  readonly metadata: { name: string; namespace: string; labels: Record<string, string> };
  readonly spec: RuleFile;
}

/** With prometheus-operator: PodMonitor + PrometheusRule; without: one ConfigMap with the rules and scrape files. */
export type MonitoringObjects =
  | { readonly mode: "operator"; readonly podMonitor: PodMonitor; readonly prometheusRule: PrometheusRule; readonly dashboard: IConfigMap }
  | { readonly mode: "configMap"; readonly rulesConfigMap: IConfigMap; readonly dashboard: IConfigMap };

/** The label Grafana's dashboard sidecar (kube-prometheus-stack default) watches for. */
export const DASHBOARD_SIDECAR_LABEL = { grafana_dashboard: "1" } as const;

export const FILE_NAMES = {
  rules: `${METRICS_JOB}.rules.yaml`,
  scrape: `${METRICS_JOB}.scrape.yaml`,
  dashboard: `${METRICS_JOB}.json`,
} as const;

const toYaml = (value: unknown): string => stringify(value, { lineWidth: 0 });
const toJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function dashboardConfigMap(config: StackConfig, targets: AlertTargets): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    // Grafana's namespace is shared by every stack: the name carries this stack's namespace.
    metadata: {
      name: `${config.namespace}-nats-dashboard`,
      namespace: config.grafanaNamespace,
      labels: { ...monitoringLabels(config), ...DASHBOARD_SIDECAR_LABEL },
    },
    data: { [FILE_NAMES.dashboard]: toJson(renderDashboard(config, targets)) },
  };
}

export function monitoringObjects(config: StackConfig, targets: AlertTargets): MonitoringObjects {
  const rules = renderAlertRules(config, targets);
  const selected = { ...monitoringLabels(config), ...parseLabelPairs(config.podMonitorLabels) };
  const dashboard = dashboardConfigMap(config, targets);
  if (config.prometheusOperator) {
    return {
      mode: "operator",
      podMonitor: renderPodMonitor(config),
      prometheusRule: {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: MONITORING_NAME, namespace: config.namespace, labels: selected },
        spec: rules,
      },
      dashboard,
    };
  }
  return {
    mode: "configMap",
    // Prometheus can mount only ConfigMaps of its own namespace: the files go to the monitoring namespace.
    rulesConfigMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${config.namespace}-nats-prometheus`, namespace: config.monitoringNamespace, labels: selected },
      data: {
        [FILE_NAMES.rules]: toYaml(rules),
        [FILE_NAMES.scrape]: toYaml({ scrape_configs: [renderScrapeConfig(config)] }),
      },
    },
    dashboard,
  };
}

export interface AlertFile {
  readonly path: string;
  readonly content: string;
}

/** Rules, scrape and dashboard as files for `npm run render`: `alerts/…` and `dashboards/…`. */
export function alertFiles(config: StackConfig, targets: AlertTargets): AlertFile[] {
  const objects = monitoringObjects(config, targets);
  const scrape =
    objects.mode === "operator"
      ? { path: "alerts/podmonitor.yaml", content: toYaml(objects.podMonitor) }
      : { path: `alerts/${FILE_NAMES.scrape}`, content: toYaml({ scrape_configs: [renderScrapeConfig(config)] }) };
  return [
    { path: `alerts/${FILE_NAMES.rules}`, content: toYaml(renderAlertRules(config, targets)) },
    scrape,
    { path: `dashboards/${FILE_NAMES.dashboard}`, content: toJson(renderDashboard(config, targets)) },
  ];
}
