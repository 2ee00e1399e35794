// The dashboard and the scrape labels on a real Prometheus 3 (pinned build, 127.0.0.1, random port, temporary
// TSDB): it scrapes the exporter scrapes recorded from the real exporter in front of a live 3-node cluster
// (monitoring/testdata, served again over HTTP) through the PodMonitor's relabelings, evaluates the stack's rules
// (test copy, `for` shortened), and every panel query, with the variables resolved and substituted as Grafana
// does, returns series. The recording left a backlog on JOBS/trace-analysis, so the alert table has a row. The
// plain scrape config (prometheusOperator: false) is run too, and must give the targets the same labels.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/stackFile";
import { deploymentModel } from "../model";
import { targetLabels } from "./clusterSeries.testkit";
import { renderDashboard } from "./dashboard";
import { rateIntervalSeconds, resolveVariables, runPanels, type PanelResult, type Selection } from "./live/grafana";
import { plainScrapeConfig, podMonitorScrapeConfig, startPrometheus, withShortenedFor, type PrometheusServer } from "./live/prometheus";
import { waitFor } from "./live/processes";
import { replayRecordedScrapes, type Replay } from "./live/replay";
import { renderAlertRules } from "./rules";
import { METRICS_JOB, renderPodMonitor, renderScrapeConfig } from "./scrape";

const config = readStackConfig("dev");
const model = deploymentModel(config);
const dashboard = renderDashboard(config, model.alertTargets);
const PODS = ["nats-0", "nats-1", "nats-2"];
const SCRAPE_SECONDS = 1;

let dir: string;
let replay: Replay | undefined;
let prometheus: PrometheusServer | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fluo-dashboard-"));
  replay = await replayRecordedScrapes(PODS);
  prometheus = await startPrometheus({
    dir,
    scrapeConfigs: [podMonitorScrapeConfig(renderPodMonitor(config), replay.targets, `${SCRAPE_SECONDS}s`)],
    rules: withShortenedFor(renderAlertRules(config, model.alertTargets)),
    evaluationInterval: `${SCRAPE_SECONDS}s`,
  });
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await replay?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Grafana's built-ins for a panel over the last 30 s: $__interval is then the data source's 1 s minimum. */
const builtins = { __rate_interval: `${rateIntervalSeconds(SCRAPE_SECONDS, SCRAPE_SECONDS)}s`, __interval: `${SCRAPE_SECONDS}s` };

async function panelsFor(selection: Selection): Promise<{ results: PanelResult[]; options: Readonly<Record<string, readonly string[]>> }> {
  const { values, options } = await resolveVariables(dashboard, prometheus!, selection, builtins);
  const end = Date.now() / 1000;
  return { results: await runPanels(dashboard, prometheus!, values, { start: end - 30, end, step: SCRAPE_SECONDS }), options };
}

const empty = (results: readonly PanelResult[]) => results.filter((r) => r.series === 0).map((r) => `${r.panel} ${r.refId}: ${r.error ?? r.expr}`);

describe("dashboard on a real Prometheus 3 scraping the recorded exporter output", () => {
  it("the PodMonitor's relabelings give each target the labels the rules and promtool scenarios assume", async () => {
    const up = await waitFor("three scraped targets", 20_000, async () => {
      const series = await prometheus!.query(`up{job="${METRICS_JOB}"} == 1`);
      return series.length === 3 ? series : undefined;
    });
    const labels = up.map((s) => s.metric).sort((a, b) => a.pod.localeCompare(b.pod));
    expect(labels).toEqual(PODS.map((pod) => ({ __name__: "up", ...targetLabels(config, pod as "nats-0") })));
  });

  it("without prometheus-operator, the rendered scrape config's relabelings give the same target labels", async () => {
    const plainDir = mkdtempSync(join(tmpdir(), "fluo-dashboard-plain-"));
    const plain = await startPrometheus({
      dir: plainDir,
      scrapeConfigs: [plainScrapeConfig(renderScrapeConfig(config), config.namespace, replay!.targets, `${SCRAPE_SECONDS}s`)],
      rules: { groups: [] },
      evaluationInterval: `${SCRAPE_SECONDS}s`,
    });
    try {
      const up = await waitFor("three scraped targets", 20_000, async () => {
        const series = await plain.query(`up{job="${METRICS_JOB}"} == 1`);
        return series.length === 3 ? series : undefined;
      });
      const labels = up.map((s) => s.metric).sort((a, b) => a.pod.localeCompare(b.pod));
      expect(labels).toEqual(PODS.map((pod) => ({ __name__: "up", ...targetLabels(config, pod as "nats-0") })));
    } finally {
      await plain.stop();
      rmSync(plainDir, { recursive: true, force: true });
    }
  });

  it("every panel query returns series with All streams and consumers, the alert table included", async () => {
    // Rates need two samples and NatsConsumerLag its shortened `for`: wait until the dashboard is complete.
    const { results, options } = await waitFor("every panel with data", 45_000, async () => {
      const run = await panelsFor({});
      return empty(run.results).length === 0 ? run : undefined;
    }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nempty panels:\n  ${empty((await panelsFor({})).results).join("\n  ")}`);
    });
    expect(results.length).toBeGreaterThan(25);
    expect(empty(results)).toEqual([]);
    expect(options.namespace).toEqual([config.namespace]);
    expect([...options.stream].sort()).toEqual(model.catalog.streams.map((s) => s.name).sort());
    expect([...options.consumer].sort()).toEqual(model.catalog.consumers.map((c) => c.name).sort());
  }, 60_000);

  it("with one stream and one consumer selected, the stream and consumer panels show just that one", async () => {
    const { results } = await panelsFor({ stream: ["JOBS"], consumer: ["trace-analysis"] });
    expect(empty(results)).toEqual([]);
    const pending = results.find((r) => r.panel === "Pending (undelivered)")!;
    expect(pending.expr).toContain('stream_name=~"JOBS"');
    expect(pending.series).toBe(1);
  });

  it("the alert table lists NatsConsumerLag for the recorded backlog, naming stream and consumer", async () => {
    const firing = await prometheus!.query(`ALERTS{alertstate="firing",namespace="${config.namespace}",alertname="NatsConsumerLag"}`);
    expect(firing.map((s) => [s.metric.stream_name, s.metric.consumer_name])).toEqual([["JOBS", "trace-analysis"]]);
  });

  it("a panel query on a metric the exporter does not emit would be reported empty (the check can fail)", async () => {
    const end = Date.now() / 1000;
    const broken = { ...dashboard, panels: [{ type: "timeseries", title: "typo", targets: [{ refId: "A", expr: `nats_varz_remotez{job="${METRICS_JOB}"}` }] }] };
    const results = await runPanels(broken as typeof dashboard, prometheus!, {}, { start: end - 30, end, step: 1 });
    expect(empty(results)).toEqual([`typo A: nats_varz_remotez{job="${METRICS_JOB}"}`]);
  });
});
