// npm run monitoring:live -- --exporter <prometheus-nats-exporter binary>
// The monitoring proven end to end on this machine, printing one line per check and a closing tally:
//   1. a live scrape of the real exporter (sidecar flags, local 3-node dev cluster, catalog, recording traffic)
//      has exactly the metric families of the committed list (monitoring/exporter-metrics.tsv);
//   2. a real Prometheus 3 scrapes three real exporters with the PodMonitor's labels and evaluates the stack's
//      rules (test copy, every `for` divided by 60), and fault scenarios fire exactly the expected alerts;
//   3. while an alert fires, every dashboard panel query returns series from that Prometheus.
// Exit 0 when everything held, 1 otherwise. Every process it starts is stopped, also on failure or Ctrl-C.
// Not part of `npm test`: CI cannot build the exporter (the Go module proxy does not serve it).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsServerBinary } from "../../local/localCluster";
import { natsServerVersion } from "../../tools/resolve";
import { renderDashboard } from "../dashboard";
import { committedMetricList, diffMetricLists, isEmptyDiff, metricFamilies } from "../exporterMetrics";
import { renderAlertRules } from "../rules";
import { renderPodMonitor } from "../scrape";
import type { AlertTargets } from "../targets";
import { rateIntervalSeconds, resolveVariables, runPanels } from "./grafana";
import { podMonitorScrapeConfig, startPrometheus, withShortenedFor, type PromAlert, type PrometheusServer } from "./prometheus";
import { httpGet, sleep, startProcess, waitFor, type ManagedProcess } from "./processes";
import { exporterVersion, parseExporterFlag, recordingTraffic } from "./recording";
import { startMonitoredCluster, type MonitoredCluster } from "./stack";
import { publish, workOff } from "./traffic";

const SCRAPE_SECONDS = 1;
/** How long a scenario may take to reach its expected alerts, and to clear them again. */
const SETTLE_MS = 60_000;
/** How long the expected set must then hold unchanged (nothing else joins it). */
const HOLD_MS = 4_000;
/** The test-only stream filled to its max_bytes (fluo-bff may publish on test.>). */
const LIMIT_STREAM = { name: "LIMITTEST", subject: "test.limit", maxBytes: 64 * 1024 };
const JOB_BACKLOG = 1100;

interface Outcome {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

const outcomes: Outcome[] = [];
function report(check: string, ok: boolean, detail: string): void {
  outcomes.push({ check, ok, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${check}: ${detail}`);
}

interface ExpectedAlert {
  readonly alertname: string;
  /** Labels the alert must carry (e.g. the pod, or stream and consumer). */
  readonly labels?: Readonly<Record<string, string>>;
}

const describeAlert = (a: PromAlert) =>
  `${a.labels.alertname}{${["pod", "stream_name", "consumer_name"].filter((k) => a.labels[k]).map((k) => `${k}=${a.labels[k]}`).join(",")}}[${a.state}]`;

function matches(alerts: readonly PromAlert[], expected: readonly ExpectedAlert[]): boolean {
  const firing = alerts.filter((a) => a.state === "firing");
  if (alerts.some((a) => a.state === "pending" && !expected.some((e) => e.alertname === a.labels.alertname))) return false;
  return (
    firing.length === expected.length &&
    expected.every((e) => firing.some((a) => a.labels.alertname === e.alertname && Object.entries(e.labels ?? {}).every(([k, v]) => a.labels[k] === v)))
  );
}

/** Waits until exactly `expected` fires (and nothing else is pending), then checks it holds for HOLD_MS. */
async function expectAlerts(prometheus: PrometheusServer, name: string, expected: readonly ExpectedAlert[]): Promise<void> {
  const started = Date.now();
  let last: PromAlert[] = [];
  try {
    await waitFor(name, SETTLE_MS, async () => {
      last = await prometheus.alerts();
      return matches(last, expected) ? true : undefined;
    }, 500);
    const settled = Date.now() - started;
    const holdUntil = Date.now() + HOLD_MS;
    while (Date.now() < holdUntil) {
      last = await prometheus.alerts();
      if (!matches(last, expected)) throw new Error("changed while holding");
      await sleep(500);
    }
    report(name, true, `${expected.length === 0 ? "nothing fires" : last.map(describeAlert).join(", ")} after ${(settled / 1000).toFixed(1)} s, held ${HOLD_MS / 1000} s`);
  } catch (err) {
    report(name, false, `${String(err)}; alerts: ${last.map(describeAlert).join(", ") || "none"}`);
  }
}

/** Nothing pending or firing for the whole window. */
async function expectSilence(prometheus: PrometheusServer, name: string, windowMs: number): Promise<void> {
  const until = Date.now() + windowMs;
  while (Date.now() < until) {
    const alerts = await prometheus.alerts();
    if (alerts.length > 0) {
      report(name, false, `${alerts.map(describeAlert).join(", ")} within the ${windowMs / 1000} s window`);
      return;
    }
    await sleep(500);
  }
  report(name, true, `nothing pending or firing for ${windowMs / 1000} s (longest shortened for: 15 s)`);
}

async function clearAlerts(prometheus: PrometheusServer, what: string): Promise<void> {
  await waitFor(`alerts to clear after ${what}`, SETTLE_MS, async () => ((await prometheus.alerts()).length === 0 ? true : undefined), 500);
}

async function compareMetricList(exporter: string): Promise<void> {
  const stack = await startMonitoredCluster({ exporterBinary: exporter });
  try {
    await recordingTraffic(stack);
    const live = metricFamilies(await Promise.all(stack.exporters.map((e) => httpGet(e.url))));
    const diff = diffMetricLists(committedMetricList(), live);
    report(
      "live scrape vs committed metric list",
      isEmptyDiff(diff),
      isEmptyDiff(diff)
        ? `${live.length} metric families, names, types and label sets identical`
        : `missing ${diff.missing.join(", ") || "-"}; added ${diff.added.join(", ") || "-"}; changed ${diff.changed.join("; ") || "-"} (re-record with npm run monitoring:metrics if the exporter changed on purpose)`,
    );
  } finally {
    await stack.stop();
  }
}

/** The non-meta-leader pods: killing one of them does not start a meta election (which would briefly alert). */
async function followers(stack: MonitoredCluster): Promise<string[]> {
  const jsz = JSON.parse(await httpGet(`${stack.cluster.nodes[0].monitorUrl}/jsz`)) as { meta_cluster?: { leader?: string } };
  return stack.cluster.nodes.map((n) => n.name).filter((n) => n !== jsz.meta_cluster?.leader);
}

async function dashboardOnLiveData(stack: MonitoredCluster, prometheus: PrometheusServer, targets: AlertTargets): Promise<void> {
  const dashboard = renderDashboard(stack.config, targets);
  const builtins = { __rate_interval: `${rateIntervalSeconds(SCRAPE_SECONDS, SCRAPE_SECONDS)}s`, __interval: `${SCRAPE_SECONDS}s` };
  const { values } = await resolveVariables(dashboard, prometheus, {}, builtins);
  const end = Date.now() / 1000;
  const results = await runPanels(dashboard, prometheus, values, { start: end - 60, end, step: SCRAPE_SECONDS });
  const empty = results.filter((r) => r.series === 0);
  report(
    "dashboard on live data (All streams/consumers)",
    empty.length === 0,
    empty.length === 0
      ? `${results.length} panel queries, each with series (${results.reduce((n, r) => n + r.series, 0)} series in all)`
      : `empty: ${empty.map((r) => `${r.panel} ${r.refId}${r.error ? ` (${r.error})` : ""}`).join("; ")}`,
  );
}

async function alertScenarios(exporter: string): Promise<void> {
  const stack = await startMonitoredCluster({ exporterBinary: exporter });
  const dir = mkdtempSync(join(tmpdir(), "fluo-prometheus-"));
  let prometheus: PrometheusServer | undefined;
  const restarted: ManagedProcess[] = [];
  try {
    const targets: AlertTargets = {
      ...stack.model.alertTargets,
      streams: [...stack.model.alertTargets.streams, { name: LIMIT_STREAM.name, maxBytes: LIMIT_STREAM.maxBytes, maxMsgs: -1 }],
    };
    prometheus = await startPrometheus({
      dir,
      scrapeConfigs: [
        podMonitorScrapeConfig(
          renderPodMonitor(stack.config),
          stack.exporters.map((e) => ({ pod: e.pod, address: `127.0.0.1:${e.port}` })),
          `${SCRAPE_SECONDS}s`,
        ),
      ],
      rules: withShortenedFor(renderAlertRules(stack.config, targets)),
      evaluationInterval: `${SCRAPE_SECONDS}s`,
    });
    const prom = prometheus;
    await waitFor("three exporters scraped", 20_000, async () => {
      const health = await prom.targetHealth();
      return Object.values(health).filter((h) => h === "up").length === 3 ? true : undefined;
    });
    // Pids by node, taken while all run (cluster.pids lists only the live ones).
    const serverPid = new Map(stack.cluster.nodes.map((n, i) => [n.name, stack.cluster.pids[i]]));
    const bff = await stack.connectAs("fluo-bff");
    const workers = await stack.connectAs("fluo-workers");
    const backend = await stack.connectAs("fluo-backend");

    // Healthy: work submitted and done, events written and read; nothing may even be pending.
    await publish(bff, "jobs.rule_validation", 50);
    await workOff(workers, "JOBS", "rule-validation", 50);
    await publish(bff, "events.user.login", 20);
    await workOff(backend, "EVENTS", "audit-replay", 20);
    await expectSilence(prom, "healthy cluster with traffic", 20_000);

    // Workers stopped while jobs come.
    await publish(bff, "jobs.trace_analysis", JOB_BACKLOG);
    await expectAlerts(prom, `${JOB_BACKLOG} trace-analysis jobs, no worker pulling`, [
      { alertname: "NatsConsumerLag", labels: { stream_name: "JOBS", consumer_name: "trace-analysis" } },
    ]);
    await dashboardOnLiveData(stack, prom, targets);
    await workOff(workers, "JOBS", "trace-analysis", JOB_BACKLOG);
    await clearAlerts(prom, "the backlog was worked off");

    // A small stream filled to its max_bytes (discard old keeps it full).
    const provisioner = await stack.connectAs("fluo-provisioner");
    const jsm = await provisioner.jetstreamManager();
    await jsm.streams.add({ name: LIMIT_STREAM.name, subjects: [LIMIT_STREAM.subject], max_bytes: LIMIT_STREAM.maxBytes, num_replicas: 3 });
    await publish(bff, LIMIT_STREAM.subject, 100, 1024);
    await expectAlerts(prom, `${LIMIT_STREAM.name} (max_bytes 64KiB) filled`, [{ alertname: "NatsStreamNearByteLimit", labels: { stream_name: LIMIT_STREAM.name } }]);
    await jsm.streams.delete(LIMIT_STREAM.name);
    await clearAlerts(prom, `${LIMIT_STREAM.name} was deleted`);

    // One exporter stopped, its server fine.
    const [first, second] = await followers(stack);
    const exporterOf = (pod: string) => stack.exporters.find((e) => e.pod === pod)!;
    await exporterOf(first).process.stop();
    await expectAlerts(prom, `exporter of ${first} stopped`, [{ alertname: "NatsExporterDown", labels: { pod: first } }]);
    await exporterOf(first).restart();
    await clearAlerts(prom, `the exporter of ${first} was restarted`);

    // nats-server SIGKILLed inside a running pod (its exporter lives, so `up` stays 1).
    process.kill(serverPid.get(first)!, "SIGKILL");
    await expectAlerts(prom, `nats-server of ${first} SIGKILLed, exporter alive`, [
      { alertname: "NatsServerUnreachable", labels: { pod: first } },
      { alertname: "NatsClusterDegraded" },
    ]);
    const node = stack.cluster.nodes.find((n) => n.name === first)!;
    restarted.push(startProcess(`nats-server ${first} (restarted)`, natsServerBinary(), ["-c", node.confPath], node.logPath));
    await waitFor(`${first} healthy again`, 30_000, async () => ((await httpGet(`${node.monitorUrl}/healthz`)).includes("ok") ? true : undefined));
    await clearAlerts(prom, `${first} was restarted`);

    // The whole pod lost: server and exporter SIGKILLed.
    process.kill(serverPid.get(second)!, "SIGKILL");
    await exporterOf(second).process.kill("SIGKILL");
    await expectAlerts(prom, `pod ${second} lost (server and exporter SIGKILLed)`, [
      { alertname: "NatsServerDown", labels: { pod: second } },
      { alertname: "NatsClusterDegraded" },
    ]);

    // Every exporter stopped.
    await Promise.all(stack.exporters.map((e) => e.process.stop()));
    await expectAlerts(prom, "every exporter stopped", [{ alertname: "NatsClusterUnobservable" }]);
  } finally {
    await prometheus?.stop();
    await Promise.all(restarted.map((p) => p.stop()));
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const exporter = parseExporterFlag(argv, "monitoring:live");
  if (typeof exporter === "number") return exporter;
  const started = Date.now();
  console.log(`prometheus-nats-exporter ${exporterVersion(exporter)}, nats-server ${natsServerVersion(natsServerBinary())}, Prometheus scrape and evaluation every ${SCRAPE_SECONDS} s`);
  for (const step of [() => compareMetricList(exporter), () => alertScenarios(exporter)]) {
    try {
      await step();
    } catch (err) {
      report("run", false, err instanceof Error ? err.message : String(err));
    }
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`${outcomes.length - failed} passed, ${failed} failed (${Math.round((Date.now() - started) / 1000)} s)`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  // Ctrl-C exits through the exit handlers, which kill every child still running.
  process.on("SIGINT", () => process.exit(130));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`monitoring:live: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
