// The Grafana dashboard of the NATS cluster, typed with Grafana's own schema (@grafana/schema, types only).
// Queries select this stack's series by job and the $namespace variable, use rate() on the exporter's
// cumulative values, and read stream/consumer numbers from leader series only (followers report stale data).

import {
  DashboardCursorSync,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type Panel,
  type RowPanel,
  type VariableModel,
} from "@grafana/schema";
import type { StackConfig } from "../infra/stackConfig";
import { METRICS_JOB } from "./scrape";
import { DEFAULT_NEAR_LIMIT_RATIO, type AlertTargets } from "./targets";

/** Grafana uids are at most 40 characters and unique per Grafana: one dashboard per stack namespace. */
export function dashboardUid(config: StackConfig): string {
  return `nats-${config.namespace}`.slice(0, 40);
}

const DATASOURCE = { type: "prometheus", uid: "${datasource}" } as const;
const S = `job="${METRICS_JOB}",namespace="$namespace"`;
const STREAM_LEADER = `${S},is_stream_leader="true",stream_name=~"$stream"`;
const CONSUMER_LEADER = `${S},is_consumer_leader="true",stream_name=~"$stream",consumer_name=~"$consumer"`;
const RATE = "$__rate_interval";

interface Query {
  readonly expr: string;
  readonly legend: string;
  /** Instant query in table format (alert list). */
  readonly table?: boolean;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly type: "timeseries" | "stat" | "table";
  readonly unit?: string;
  readonly queries: readonly Query[];
  /** Threshold steps (value at which the colour changes), base colour green. */
  readonly thresholds?: readonly { value: number; color: string }[];
  readonly width?: number;
}

interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

const q = (expr: string, legend = ""): Query => ({ expr, legend });

/**
 * Fill of max_bytes and of max_msgs, each only when some stream of the catalog sets that limit (as the near-limit
 * rules): an unlimited stream reports -1, which the query filters out, so the target would always be empty.
 */
function streamFillPanel(targets: AlertTargets): PanelSpec[] {
  const fill = (used: string, limit: string) =>
    `max by (stream_name) (${used}{${STREAM_LEADER}}) / max by (stream_name) (${limit}{${STREAM_LEADER}} > 0)`;
  const queries = [
    ...(targets.streams.some((s) => s.maxBytes > 0) ? [q(fill("nats_stream_total_bytes", "nats_stream_limit_bytes"), "{{stream_name}} bytes")] : []),
    ...(targets.streams.some((s) => s.maxMsgs > 0) ? [q(fill("nats_stream_total_messages", "nats_stream_limit_messages"), "{{stream_name}} messages")] : []),
  ];
  if (queries.length === 0) return [];
  return [
    {
      title: "Stream fill (of max_bytes / max_msgs)",
      description: "Fraction of each limited stream's max_bytes and max_msgs in use (limits no stream sets are left out).",
      type: "timeseries",
      unit: "percentunit",
      queries,
      thresholds: [{ value: DEFAULT_NEAR_LIMIT_RATIO, color: "orange" }],
      width: 6,
    },
  ];
}

function rows(targets: AlertTargets): RowSpec[] {
  const { server } = targets;
  const storeThresholds = [
    { value: server.storageWarningRatio, color: "orange" },
    { value: server.storageCriticalRatio, color: "red" },
  ];
  const consumerKey = "stream_name, consumer_name";
  const consumerLegend = "{{stream_name}}/{{consumer_name}}";
  return [
    {
      title: "Cluster health",
      panels: [
        {
          title: "Servers scraped / healthy",
          description: `Exporters scraped (up) and servers whose /healthz is ok, of ${targets.clusterSize}.`,
          type: "stat",
          queries: [q(`sum(up{${S}})`, "scraped"), q(`count(nats_healthz_status{${S}} == 0)`, "healthy")],
          thresholds: [
            { value: 0, color: "red" },
            { value: targets.clusterSize, color: "green" },
          ],
          width: 6,
        },
        {
          title: "JetStream meta leader",
          description: "The meta leader as each reachable server sees it; empty when no server knows one.",
          type: "stat",
          queries: [q(`count by (meta_leader) (nats_server_jetstream_disabled{${S},meta_leader!=""})`, "{{meta_leader}}")],
          width: 6,
        },
        {
          title: "Peers per server",
          description: `Remote servers each server has routes to; healthy: ${targets.clusterSize - 1}.`,
          type: "timeseries",
          queries: [q(`nats_varz_remotes{${S}}`, "{{pod}}")],
          width: 6,
        },
        {
          title: "Server starts (30m)",
          description: "nats-server (re)starts per pod over the last 30 minutes.",
          type: "timeseries",
          queries: [q(`max by (pod) (changes(nats_varz_start{${S}}[30m]))`, "{{pod}}")],
          thresholds: [{ value: server.restartsPer30m, color: "red" }],
          width: 6,
        },
      ],
    },
    {
      title: "Traffic",
      panels: [
        {
          title: "Messages in / out",
          description: "Messages per second received and sent by each server (clients, routes, JetStream).",
          type: "timeseries",
          unit: "mps",
          queries: [
            q(`sum by (pod) (rate(nats_varz_in_msgs{${S}}[${RATE}]))`, "{{pod}} in"),
            q(`-sum by (pod) (rate(nats_varz_out_msgs{${S}}[${RATE}]))`, "{{pod}} out"),
          ],
          width: 8,
        },
        {
          title: "Bytes in / out",
          description: "Bytes per second received and sent by each server.",
          type: "timeseries",
          unit: "Bps",
          queries: [
            q(`sum by (pod) (rate(nats_varz_in_bytes{${S}}[${RATE}]))`, "{{pod}} in"),
            q(`-sum by (pod) (rate(nats_varz_out_bytes{${S}}[${RATE}]))`, "{{pod}} out"),
          ],
          width: 8,
        },
        {
          title: "Client connections",
          description: "Current client connections per server.",
          type: "timeseries",
          queries: [q(`nats_varz_connections{${S}}`, "{{pod}}")],
          width: 8,
        },
        {
          // Browsers on the WebSocket listener (docs/websocket.md) are the clients most likely to fall behind (a
          // backgrounded tab, a phone on a bad link); the server cuts a slow consumer and counts it here.
          title: "Slow consumers (new, 5m)",
          description: "Client connections the server found too slow to take their messages and cut, per server over 5 minutes; browser tabs on the WebSocket listener included.",
          type: "timeseries",
          queries: [q(`increase(nats_varz_slow_consumer_stats_clients{${S}}[5m])`, "{{pod}}")],
          width: 8,
        },
      ],
    },
    {
      title: "JetStream storage and memory",
      panels: [
        {
          title: "File store used / limit",
          description: "JetStream file store bytes per server against the max_file_store the server enforces.",
          type: "timeseries",
          unit: "bytes",
          queries: [
            q(`nats_varz_jetstream_stats_storage{${S}}`, "{{pod}} used"),
            q(`max(nats_varz_jetstream_config_max_storage{${S}})`, "limit"),
          ],
          width: 6,
        },
        {
          title: "File store usage",
          description: "Fraction of the file store limit in use (alerts at the threshold lines).",
          type: "timeseries",
          unit: "percentunit",
          queries: [q(`nats_varz_jetstream_stats_storage{${S}} / (nats_varz_jetstream_config_max_storage{${S}} > 0)`, "{{pod}}")],
          thresholds: storeThresholds,
          width: 6,
        },
        {
          title: "Memory store used / limit",
          description: "JetStream memory store bytes per server against max_memory_store (0 = disabled).",
          type: "timeseries",
          unit: "bytes",
          queries: [
            q(`nats_varz_jetstream_stats_memory{${S}}`, "{{pod}} used"),
            q(`max(nats_varz_jetstream_config_max_memory{${S}})`, "limit"),
          ],
          width: 6,
        },
        {
          title: "Memory store usage",
          description: "Fraction of the memory store limit in use; empty when the memory store is disabled.",
          type: "timeseries",
          unit: "percentunit",
          queries: [q(`nats_varz_jetstream_stats_memory{${S}} / (nats_varz_jetstream_config_max_memory{${S}} > 0)`, "{{pod}}")],
          thresholds: storeThresholds,
          width: 6,
        },
      ],
    },
    {
      title: "Streams",
      panels: [
        {
          title: "Stream size",
          description: "Bytes stored per stream (leader's view).",
          type: "timeseries",
          unit: "bytes",
          queries: [q(`max by (stream_name) (nats_stream_total_bytes{${STREAM_LEADER}})`, "{{stream_name}}")],
          width: 6,
        },
        {
          title: "Stream messages",
          description: "Messages stored per stream (leader's view).",
          type: "timeseries",
          queries: [q(`max by (stream_name) (nats_stream_total_messages{${STREAM_LEADER}})`, "{{stream_name}}")],
          width: 6,
        },
        ...streamFillPanel(targets),
        {
          title: "Stream ingest",
          description: "Messages per second stored per stream (rate of the last sequence).",
          type: "timeseries",
          unit: "mps",
          queries: [q(`sum by (stream_name) (rate(nats_stream_last_seq{${STREAM_LEADER}}[${RATE}]))`, "{{stream_name}}")],
          width: 6,
        },
      ],
    },
    {
      title: "Consumers",
      panels: [
        {
          title: "Pending (undelivered)",
          description: "num_pending per consumer (leader): messages not yet delivered.",
          type: "timeseries",
          queries: [q(`max by (${consumerKey}) (nats_consumer_num_pending{${CONSUMER_LEADER}})`, consumerLegend)],
          width: 8,
        },
        {
          title: "Ack pending",
          description: "Delivered but unacknowledged messages per consumer (leader).",
          type: "timeseries",
          queries: [q(`max by (${consumerKey}) (nats_consumer_num_ack_pending{${CONSUMER_LEADER}})`, consumerLegend)],
          width: 8,
        },
        {
          title: "Redelivered",
          description: "Unacknowledged messages already redelivered at least once (poison jobs keep this rising).",
          type: "timeseries",
          queries: [q(`max by (${consumerKey}) (nats_consumer_num_redelivered{${CONSUMER_LEADER}})`, consumerLegend)],
          width: 8,
        },
        {
          title: "Acknowledged",
          description: "Messages per second passing the ack floor, per consumer.",
          type: "timeseries",
          unit: "mps",
          queries: [q(`sum by (${consumerKey}) (rate(nats_consumer_ack_floor_stream_seq{${CONSUMER_LEADER}}[${RATE}]))`, consumerLegend)],
          width: 12,
        },
        {
          title: "Last activity",
          description:
            "Seconds since each consumer's last delivery and last ack (exporter 0.20+ and nats-server 2.10+; empty before the first delivery).",
          type: "timeseries",
          unit: "s",
          queries: [
            q(`max by (${consumerKey}) (nats_consumer_last_delivery_seconds{${CONSUMER_LEADER}})`, `${consumerLegend} delivery`),
            q(`max by (${consumerKey}) (nats_consumer_last_ack_seconds{${CONSUMER_LEADER}})`, `${consumerLegend} ack`),
          ],
          width: 12,
        },
      ],
    },
    {
      title: "Alerts",
      panels: [
        {
          title: "Firing NATS alerts",
          description: "Alerts of this namespace that fire now; each links to its runbook in the README.",
          type: "table",
          queries: [{ expr: `ALERTS{alertstate="firing",namespace="$namespace",alertname=~"Nats.*"}`, legend: "", table: true }],
          width: 24,
        },
      ],
    },
  ];
}

function panel(spec: PanelSpec, id: number, x: number, y: number): Panel {
  const height = spec.type === "stat" ? 5 : 8;
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: height, w: spec.width ?? 12, x, y },
    targets: spec.queries.map((query, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      expr: query.expr,
      legendFormat: query.legend,
      ...(query.table ? { instant: true, range: false, format: "table" } : { range: true }),
    })),
    fieldConfig: {
      defaults: {
        ...(spec.unit ? { unit: spec.unit } : {}),
        thresholds: {
          mode: ThresholdsMode.Absolute,
          steps: [{ value: null, color: "green" }, ...(spec.thresholds ?? [])].map((s) => ({ value: s.value, color: s.color })),
        },
        ...(spec.type === "timeseries" && spec.thresholds ? { custom: { thresholdsStyle: { mode: "line" } } } : {}),
      },
      overrides: [],
    },
    options: spec.type === "table" ? { showHeader: true } : {},
  };
}

function variables(config: StackConfig): VariableModel[] {
  const query = (name: string, label: string, expr: string, multi: boolean, current?: string): VariableModel => ({
    name,
    label,
    type: "query",
    datasource: DATASOURCE,
    query: expr,
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalAsc,
    ...(multi ? { multi: true, includeAll: true, allValue: ".*" } : {}),
    current: current ? { text: current, value: current, selected: true } : multi ? { text: "All", value: "$__all", selected: true } : undefined,
  });
  return [
    { name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: { text: "Prometheus", value: "prometheus" } },
    query("namespace", "Namespace", `label_values(nats_varz_start{job="${METRICS_JOB}"}, namespace)`, false, config.namespace),
    query("stream", "Stream", `label_values(nats_stream_total_messages{${S},is_stream_leader="true"}, stream_name)`, true),
    query(
      "consumer",
      "Consumer",
      `label_values(nats_consumer_num_pending{${S},is_consumer_leader="true",stream_name=~"$stream"}, consumer_name)`,
      true,
    ),
  ];
}

/** The dashboard JSON model for one stack. */
export function renderDashboard(config: StackConfig, targets: AlertTargets): Dashboard {
  const panels: (Panel | RowPanel)[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows(targets)) {
    panels.push({ type: "row", id: id++, title: row.title, collapsed: false, panels: [], gridPos: { h: 1, w: 24, x: 0, y: y++ } });
    let x = 0;
    let rowHeight = 0;
    for (const spec of row.panels) {
      const p = panel(spec, id++, x, y);
      const w = p.gridPos!.w;
      if (x + w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
        p.gridPos = { ...p.gridPos!, x, y };
      }
      panels.push(p);
      x += w;
      rowHeight = Math.max(rowHeight, p.gridPos!.h);
    }
    y += rowHeight;
  }
  return {
    uid: dashboardUid(config),
    title: `NATS JetStream (${config.namespace})`,
    description: "fluo-queue: the NATS JetStream cluster of FLUO (ADR-007). Generated by fluo-queue (monitoring/dashboard.ts); do not edit in Grafana.",
    tags: ["nats", "jetstream", "fluo"],
    editable: false,
    graphTooltip: DashboardCursorSync.Crosshair,
    schemaVersion: 39,
    timezone: "browser",
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: variables(config) },
    annotations: { list: [] },
    panels,
  };
}

/** Every PromQL query of a dashboard (panel targets), for validation. */
export function dashboardQueries(dashboard: Dashboard): string[] {
  return (dashboard.panels ?? []).flatMap((p) =>
    "targets" in p && p.targets ? p.targets.map((t) => String(t.expr)) : [],
  );
}

/** The series selectors inside the variables' label_values(...) queries. */
export function variableSelectors(dashboard: Dashboard): string[] {
  return (dashboard.templating?.list ?? []).flatMap((v) => {
    const m = typeof v.query === "string" ? /^label_values\((.*),\s*[A-Za-z_]+\)$/.exec(v.query) : null;
    return m ? [m[1]] : [];
  });
}
