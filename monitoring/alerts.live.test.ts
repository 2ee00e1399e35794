// The alert rules on live data with faults: a local 3-node cluster (dev stack, catalog applied, pinned
// nats-server), three real prometheus-nats-exporters (pinned, the sidecar's flags), and a real Prometheus 3
// scraping them with the PodMonitor's labels and evaluating the stack's rules (test copy: every `for` divided by
// 60, nothing else changed). Each scenario must fire exactly its alerts, naming the pod, stream or consumer, and
// hold them; then it is undone and every alert must clear. While NatsConsumerLag fires, every dashboard panel
// query returns series. The scenarios build on each other, so they run in order in one cluster (about 2 minutes).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JetStreamManager, NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsServerBinary } from "../local/localCluster";
import { renderDashboard } from "./dashboard";
import { exporterBinary } from "./live/exporterBinary";
import { rateIntervalSeconds, resolveVariables, runPanels } from "./live/grafana";
import { podMonitorScrapeConfig, startPrometheus, withShortenedFor, type PromAlert, type PrometheusServer } from "./live/prometheus";
import { httpGet, sleep, startProcess, waitFor, type ManagedProcess } from "./live/processes";
import { startMonitoredCluster, type MonitoredCluster } from "./live/stack";
import { publish, workOff } from "./live/traffic";
import { renderAlertRules } from "./rules";
import { renderPodMonitor } from "./scrape";
import type { AlertTargets } from "./targets";
import { ADMIN_TIMEOUT_MS } from "../test/natsProbe.testkit";

const SCRAPE_SECONDS = 1;
/** How long a scenario may take to reach its expected alerts, and to clear them again. */
const SETTLE_MS = 60_000;
/** How long the expected set must then hold unchanged (nothing else joins it). */
const HOLD_MS = 4_000;
/** A test-only stream filled to its max_bytes (fluo-bff may publish on test.> in these clusters). */
const LIMIT_STREAM = { name: "LIMITTEST", subject: "test.limit", maxBytes: 64 * 1024 };
const JOB_BACKLOG = 1100;

interface ExpectedAlert {
  readonly alertname: string;
  /** Labels the alert must carry (the pod, or stream and consumer). */
  readonly labels?: Readonly<Record<string, string>>;
}

const describeAlert = (a: PromAlert) =>
  `${a.labels.alertname}{${["pod", "stream_name", "consumer_name"].filter((k) => a.labels[k]).map((k) => `${k}=${a.labels[k]}`).join(",")}}[${a.state}]`;

/**
 * Exactly `expected` fires. Pending alerts are not sent and do not count: losing a pod moves stream and consumer
 * leaders, and the survivors' /healthz is briefly not ok (NatsServerUnhealthy pending, seen here), which its `for`
 * (15 minutes in the real rules) exists to absorb.
 */
function exactly(alerts: readonly PromAlert[], expected: readonly ExpectedAlert[]): boolean {
  const firing = alerts.filter((a) => a.state === "firing");
  return (
    firing.length === expected.length &&
    expected.every((e) => firing.some((a) => a.labels.alertname === e.alertname && Object.entries(e.labels ?? {}).every(([k, v]) => a.labels[k] === v)))
  );
}

let stack: MonitoredCluster;
let prometheus: PrometheusServer;
let dir: string;
let targets: AlertTargets;
const restarted: ManagedProcess[] = [];
let serverPid: Map<string, number>;
let bff: NatsConnection;
let workers: NatsConnection;
let backend: NatsConnection;
let jsm: JetStreamManager;

/**
 * A pod to fault that is not the meta leader now (asked when it is needed: leadership moves): killing the leader
 * starts an election, and with the shortened `for` NatsMetaLeaderMissing would briefly join the expected alerts.
 */
async function follower(except: readonly string[] = []): Promise<string> {
  const alive = stack.cluster.nodes.filter((n) => !except.includes(n.name));
  const jsz = JSON.parse(await httpGet(`${alive[0].monitorUrl}/jsz`)) as { meta_cluster?: { leader?: string } };
  const leader = jsz.meta_cluster?.leader;
  if (!leader) throw new Error("no meta leader to avoid");
  return alive.find((n) => n.name !== leader)!.name;
}

/** Waits until exactly `expected` fires, checks it holds HOLD_MS; returns the alerts and how long it took. */
async function expectAlerts(expected: readonly ExpectedAlert[]): Promise<{ alerts: PromAlert[]; seconds: number }> {
  const started = Date.now();
  let last: PromAlert[] = [];
  try {
    await waitFor("the expected alerts", SETTLE_MS, async () => {
      last = await prometheus.alerts();
      return exactly(last, expected) ? true : undefined;
    }, 500);
  } catch (err) {
    throw new Error(`${String(err)}; alerts now: ${last.map(describeAlert).join(", ") || "none"}`);
  }
  const seconds = (Date.now() - started) / 1000;
  for (const until = Date.now() + HOLD_MS; Date.now() < until; await sleep(500)) {
    last = await prometheus.alerts();
    if (!exactly(last, expected)) throw new Error(`changed while holding: ${last.map(describeAlert).join(", ")}`);
  }
  console.log(`  ${last.map(describeAlert).join(", ")} after ${seconds.toFixed(1)} s, held ${HOLD_MS / 1000} s`);
  return { alerts: last, seconds };
}

async function expectCleared(): Promise<void> {
  let last: PromAlert[] = [];
  await waitFor("every alert to clear", SETTLE_MS, async () => {
    last = await prometheus.alerts();
    return last.length === 0 ? true : undefined;
  }, 500).catch((err: unknown) => {
    throw new Error(`${String(err)}; alerts now: ${last.map(describeAlert).join(", ")}`);
  });
}

beforeAll(async () => {
  stack = await startMonitoredCluster({ exporterBinary: exporterBinary() });
  dir = mkdtempSync(join(tmpdir(), "fluo-alerts-live-"));
  targets = {
    ...stack.model.alertTargets,
    streams: [...stack.model.alertTargets.streams, { name: LIMIT_STREAM.name, maxBytes: LIMIT_STREAM.maxBytes, maxMsgs: -1 }],
  };
  prometheus = await startPrometheus({
    dir,
    scrapeConfigs: [
      podMonitorScrapeConfig(renderPodMonitor(stack.config), stack.exporters.map((e) => ({ pod: e.pod, address: `127.0.0.1:${e.port}` })), `${SCRAPE_SECONDS}s`),
    ],
    rules: withShortenedFor(renderAlertRules(stack.config, targets)),
    evaluationInterval: `${SCRAPE_SECONDS}s`,
  });
  await waitFor("three exporters scraped", 20_000, async () =>
    Object.values(await prometheus.targetHealth()).filter((h) => h === "up").length === 3 ? true : undefined,
  );
  // Pids by node while all run (cluster.pids lists only the live ones).
  serverPid = new Map(stack.cluster.nodes.map((n, i) => [n.name, stack.cluster.pids[i]]));
  bff = await stack.connectAs("fluo-bff");
  workers = await stack.connectAs("fluo-workers");
  backend = await stack.connectAs("fluo-backend");
  jsm = await (await stack.connectAs("fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(restarted.map((p) => p.stop()));
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const exporterOf = (pod: string) => stack.exporters.find((e) => e.pod === pod)!;

describe("alerts on a live cluster with faults (real exporters, Prometheus 3)", () => {
  it("a healthy cluster with traffic: nothing pending or firing for 20 s (the longest shortened for is 15 s)", async () => {
    await publish(bff, "jobs.rule_validation", 50);
    expect(await workOff(workers, "JOBS", "rule-validation", 50)).toBe(50);
    await publish(bff, "events.user.login", 20);
    expect(await workOff(backend, "EVENTS", "audit-replay", 20)).toBe(20);
    for (const until = Date.now() + 20_000; Date.now() < until; await sleep(500)) {
      expect((await prometheus.alerts()).map(describeAlert)).toEqual([]);
    }
  });

  it(`jobs keep coming while no worker pulls: NatsConsumerLag names JOBS/trace-analysis`, async () => {
    await publish(bff, "jobs.trace_analysis", JOB_BACKLOG);
    const { alerts } = await expectAlerts([{ alertname: "NatsConsumerLag", labels: { stream_name: "JOBS", consumer_name: "trace-analysis" } }]);
    expect(alerts[0].annotations.summary).toBe(`Consumer JOBS/trace-analysis has ${JOB_BACKLOG} undelivered messages.`);
  });

  it("while it fires, every dashboard panel query returns series from this Prometheus (variables as Grafana sets them)", async () => {
    const dashboard = renderDashboard(stack.config, targets);
    const builtins = { __rate_interval: `${rateIntervalSeconds(SCRAPE_SECONDS, SCRAPE_SECONDS)}s`, __interval: `${SCRAPE_SECONDS}s` };
    const { values, options } = await resolveVariables(dashboard, prometheus, {}, builtins);
    expect([...options.stream].sort()).toEqual(targets.streams.map((s) => s.name).filter((n) => n !== LIMIT_STREAM.name).sort());
    const end = Date.now() / 1000;
    const results = await runPanels(dashboard, prometheus, values, { start: end - 60, end, step: SCRAPE_SECONDS });
    expect(results.filter((r) => r.series === 0).map((r) => `${r.panel} ${r.refId}: ${r.error ?? r.expr}`)).toEqual([]);
    expect(results.find((r) => r.panel === "Firing NATS alerts")!.series).toBe(1);
  });

  it("the backlog worked off: the alert clears", async () => {
    expect(await workOff(workers, "JOBS", "trace-analysis", JOB_BACKLOG)).toBe(JOB_BACKLOG);
    await expectCleared();
  });

  it("a 64KiB stream filled to its max_bytes: NatsStreamNearByteLimit names it; deleted, it clears", async () => {
    await jsm.streams.add({ name: LIMIT_STREAM.name, subjects: [LIMIT_STREAM.subject], max_bytes: LIMIT_STREAM.maxBytes, num_replicas: 3 });
    await publish(bff, LIMIT_STREAM.subject, 100, 1024);
    await expectAlerts([{ alertname: "NatsStreamNearByteLimit", labels: { stream_name: LIMIT_STREAM.name } }]);
    await jsm.streams.delete(LIMIT_STREAM.name);
    await expectCleared();
  });

  it("one exporter stopped, its server fine: only NatsExporterDown, naming that pod", async () => {
    const pod = await follower();
    await exporterOf(pod).process.stop();
    await expectAlerts([{ alertname: "NatsExporterDown", labels: { pod } }]);
    await exporterOf(pod).restart();
    await expectCleared();
  });

  it("nats-server SIGKILLed under its live exporter (up stays 1): NatsServerUnreachable for that pod and NatsClusterDegraded", async () => {
    const pod = await follower();
    process.kill(serverPid.get(pod)!, "SIGKILL");
    await expectAlerts([{ alertname: "NatsServerUnreachable", labels: { pod } }, { alertname: "NatsClusterDegraded" }]);
    const node = stack.cluster.nodes.find((n) => n.name === pod)!;
    const again = startProcess(`nats-server ${pod} (restarted)`, natsServerBinary(), ["-c", node.confPath], node.logPath);
    restarted.push(again);
    serverPid.set(pod, again.pid);
    await waitFor(`${pod} healthy again`, 30_000, async () => ((await httpGet(`${node.monitorUrl}/healthz`)).includes("ok") ? true : undefined));
    await expectCleared();
  });

  it("a whole pod SIGKILLed (server and exporter): NatsServerDown names that pod, with NatsClusterDegraded", async () => {
    const pod = await follower();
    process.kill(serverPid.get(pod)!, "SIGKILL");
    await exporterOf(pod).process.kill("SIGKILL");
    await expectAlerts([{ alertname: "NatsServerDown", labels: { pod } }, { alertname: "NatsClusterDegraded" }]);
  });

  it("every exporter stopped: only NatsClusterUnobservable", async () => {
    await Promise.all(stack.exporters.map((e) => e.process.stop()));
    await expectAlerts([{ alertname: "NatsClusterUnobservable" }]);
  });
});
