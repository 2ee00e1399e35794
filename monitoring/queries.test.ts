// Every metric name in the rules and the dashboard is one the exporter really emits (monitoring/exporter-metrics.tsv,
// written from a live scrape of the real exporter by `npm run monitoring:metrics`), and
// every dashboard query parses as PromQL under the real promtool.

import { describe, expect, it } from "vitest";
import { dashboardQueries, renderDashboard, variableSelectors } from "./dashboard";
import { isAlertingRule, renderAlertRules } from "./rules";
import { asRecordingRules, fixtureTargets, metricNames, promtool, exporterMetricNames, testConfig } from "./promtool.testkit";
import { healthyCluster, targetLabels } from "./clusterSeries.testkit";
import { committedMetricList } from "./exporterMetrics";
import { METRICS_JOB } from "./scrape";

const config = testConfig();
const targets = fixtureTargets(config);
const rules = renderAlertRules(config, targets);
const dashboard = renderDashboard(config, targets);
const reference = exporterMetricNames();
/** Series Prometheus itself writes: the scrape health and the alert state. */
const PROMETHEUS_SERIES = new Set(["up", "ALERTS"]);
const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => ("record" in r ? [r.record] : []))));

function unknownNames(exprs: readonly string[], extra: ReadonlySet<string> = new Set()): string[] {
  return [...new Set(exprs.flatMap(metricNames))].filter((n) => !reference.has(n) && !PROMETHEUS_SERIES.has(n) && !extra.has(n));
}

/** Grafana's template variables replaced by sample values, so the query is plain PromQL. */
function substituteVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "2m")
    .replaceAll("$namespace", config.namespace)
    .replaceAll("$stream", "JOBS")
    .replaceAll("$consumer", "trace-analysis");
}

describe("metric names", () => {
  it("the extractor finds metric names and skips functions, keywords, labels and durations", () => {
    expect(
      metricNames(
        'max by (namespace, pod) (rate(nats_varz_in_msgs{job="x",value=~"a|b"}[5m])) / on (pod) group_left (x) up > 1e3 and absent(ALERTS offset 5m)',
      ).sort(),
    ).toEqual(["ALERTS", "nats_varz_in_msgs", "up"]);
  });

  it("a typo or the ADR's nonexistent metric is caught", () => {
    expect(unknownNames(["nats_jetstream_consumer_num_pending > 1000", "nats_consumer_num_pendng"])).toEqual([
      "nats_jetstream_consumer_num_pending",
      "nats_consumer_num_pendng",
    ]);
  });

  it("every metric in the rules is in the exporter's metric list (or recorded by the rules themselves)", () => {
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThan(20);
    expect(unknownNames(exprs, recorded)).toEqual([]);
  });

  it("recording rules only aggregate reference metrics", () => {
    const recordExprs = rules.groups.flatMap((g) => g.rules.filter((r) => !isAlertingRule(r)).map((r) => r.expr));
    expect(unknownNames(recordExprs)).toEqual([]);
  });

  it("every metric in the dashboard's queries and variables is in the exporter's metric list", () => {
    const queries = [...dashboardQueries(dashboard), ...variableSelectors(dashboard)];
    expect(variableSelectors(dashboard)).toHaveLength(3);
    expect(unknownNames(queries)).toEqual([]);
  });
});

describe("promtool scenario series", () => {
  it("carry only labels the real exporter puts on that metric (plus the scrape's target labels)", () => {
    const families = new Map(committedMetricList().map((f) => [f.name, new Set(f.labels)]));
    const target = new Set(Object.keys(targetLabels(config, "nats-0")));
    const foreign = healthyCluster(config, targets).flatMap((series) =>
      series.name === "up"
        ? []
        : Object.keys(series.labels)
            .filter((label) => !target.has(label) && !families.get(series.name)?.has(label))
            .map((label) => `${series.name}{${label}}`),
    );
    expect([...new Set(foreign)]).toEqual([]);
  });
});

describe("dashboard", () => {
  const queries = dashboardQueries(dashboard);

  it("every panel query and variable selector parses as PromQL (promtool check rules)", () => {
    const exprs = [...queries, ...variableSelectors(dashboard)].map(substituteVariables);
    const result = promtool(["check", "rules", "queries.yaml"], { "queries.yaml": asRecordingRules(exprs) });
    expect(result.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(result.status).toBe(0);
  });

  it("the parse check rejects a broken query", () => {
    const result = promtool(["check", "rules", "queries.yaml"], { "queries.yaml": asRecordingRules(["sum by (pod (nats_varz_mem)"]) });
    expect(result.status).not.toBe(0);
  });

  it("has the datasource, namespace, stream and consumer variables", () => {
    const list = dashboard.templating?.list ?? [];
    expect(list.map((v) => [v.name, v.type])).toEqual([
      ["datasource", "datasource"],
      ["namespace", "query"],
      ["stream", "query"],
      ["consumer", "query"],
    ]);
    expect(list.find((v) => v.name === "namespace")?.current?.value).toBe(config.namespace);
  });

  it("has the rows the issue asks for", () => {
    const rows = (dashboard.panels ?? []).filter((p) => p.type === "row").map((p) => p.title);
    expect(rows).toEqual(["Cluster health", "Traffic", "JetStream storage and memory", "Streams", "Consumers", "Alerts"]);
  });

  it("selects this stack's job and namespace variable in every exporter query", () => {
    for (const q of queries.filter((q) => !q.startsWith("ALERTS"))) expect(q).toContain(`job="${METRICS_JOB}",namespace="$namespace"`);
  });

  it("reads stream and consumer series from leaders only", () => {
    for (const q of queries.filter((q) => /nats_(stream|consumer)_/.test(q))) {
      expect(q).toMatch(/is_(stream|consumer)_leader="true"/);
    }
  });

  it("uses rate() on the exporter's cumulative values, never their raw level", () => {
    const cumulative = ["nats_varz_in_msgs", "nats_varz_out_msgs", "nats_varz_in_bytes", "nats_varz_out_bytes", "nats_stream_last_seq", "nats_consumer_ack_floor_stream_seq"];
    for (const metric of cumulative) {
      const using = queries.filter((q) => q.includes(`${metric}{`));
      expect(using.length, metric).toBeGreaterThan(0);
      for (const q of using) expect(q).toMatch(new RegExp(`rate\\(${metric}\\{[^}]*\\}\\[\\$__rate_interval\\]\\)`));
    }
  });

  it("the stream fill panel queries only the limits some stream sets (an unlimited one reports -1: always empty)", () => {
    const fillQueries = (t: typeof targets) =>
      (renderDashboard(config, t).panels ?? []).flatMap((p) => (p.title?.startsWith("Stream fill") && "targets" in p ? (p.targets ?? []).map((x) => String(x.expr)) : []));
    expect(fillQueries(targets).map((e) => /nats_stream_limit_(\w+)/.exec(e)?.[1])).toEqual(["bytes", "messages"]);
    const bytesOnly = { ...targets, streams: targets.streams.map((s) => ({ ...s, maxMsgs: -1 })) };
    expect(fillQueries(bytesOnly).map((e) => /nats_stream_limit_(\w+)/.exec(e)?.[1])).toEqual(["bytes"]);
    expect(fillQueries({ ...bytesOnly, streams: bytesOnly.streams.map((s) => ({ ...s, maxBytes: -1 })) })).toEqual([]);
  });

  it("panels sit on a 24-column grid without overlapping", () => {
    const boxes = (dashboard.panels ?? []).map((p) => p.gridPos!);
    for (const b of boxes) expect(b.x + b.w).toBeLessThanOrEqual(24);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `panels ${i} and ${j}`).toBe(false);
      }
    }
  });

  it("every panel has a unique id and a description", () => {
    const ids = (dashboard.panels ?? []).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels ?? []) {
      if (p.type !== "row") expect("description" in p && p.description, p.title).toBeTruthy();
    }
  });
});
