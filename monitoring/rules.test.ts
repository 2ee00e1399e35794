// The alert rules under the real promtool: they load (`check rules`), and in `test rules` scenarios built from
// the exporter's real label sets each alert fires when it should, with its labels and annotations, and a
// healthy cluster, stale follower data or a total loss of scraping fire nothing else.

import { describe, expect, it } from "vitest";
import { alertNames, renderAlertRules, type RuleFile } from "./rules";
import {
  CONSUMER_LEADERS,
  from,
  healthyCluster,
  inputSeries,
  INTERVAL,
  jszLabels,
  PODS,
  scrapeFails,
  serverUnreachable,
  set,
  STREAM_LEADERS,
  targetLabels,
  timeline,
  varzLabels,
  type Series,
} from "./clusterSeries.testkit";
import { fixtureTargets, promtool, testConfig } from "./promtool.testkit";
import type { AlertTargets } from "./targets";

const config = testConfig();
const targets = fixtureTargets(config);
const rules = renderAlertRules(config, targets);
const NS = config.namespace;
const RUNBOOKS = "https://git.example/fluo-queue/README.md";

interface ExpectedAlert {
  readonly alertname: string;
  readonly labels: Record<string, string>;
  readonly summary: string;
  readonly description: string;
}

interface Scenario {
  readonly name: string;
  readonly evalMinute: number;
  readonly build: (series: Series[]) => void;
  readonly fires: readonly ExpectedAlert[];
}

const GROUP_ORDER = rules.groups.map((g) => g.name);

function promtoolTest(file: RuleFile, scenario: Scenario, t: AlertTargets = targets) {
  const series = healthyCluster(config, t);
  scenario.build(series);
  const names = alertNames(file);
  for (const f of scenario.fires) expect(names, `scenario expects unknown alert ${f.alertname}`).toContain(f.alertname);
  return {
    rule_files: ["rules.yaml"],
    evaluation_interval: INTERVAL,
    // Recording rules first, as within one Prometheus evaluation cycle.
    group_eval_order: GROUP_ORDER,
    tests: [
      {
        name: scenario.name,
        interval: INTERVAL,
        input_series: inputSeries(series),
        // Every alert is checked: those not expected must be silent.
        alert_rule_test: names.map((alertname) => ({
          eval_time: `${scenario.evalMinute}m`,
          alertname,
          exp_alerts: scenario.fires
            .filter((f) => f.alertname === alertname)
            .map((f) => ({
              exp_labels: f.labels,
              exp_annotations: {
                summary: f.summary,
                description: f.description,
                runbook_url: `${RUNBOOKS}#runbook-${alertname.toLowerCase()}`,
              },
            })),
        })),
      },
    ],
  };
}

const consumerKey = (stream: string, consumer: string) => ({ namespace: NS, stream_name: stream, consumer_name: consumer });

const scenarios: Scenario[] = [
  { name: "a healthy cluster with traffic fires nothing", evalMinute: 45, build: () => {}, fires: [] },
  {
    name: "stale follower data does not fire consumer or stream alerts",
    evalMinute: 45,
    build: (s) => {
      // Followers of trace-analysis and JOBS report numbers far past every threshold; the leaders are fine.
      set(s, { name: "nats_consumer_num_pending", consumer: "trace-analysis", leader: false }, timeline([0, 50_000]));
      set(s, { name: "nats_consumer_num_ack_pending", consumer: "trace-analysis", leader: false }, timeline([0, 5_000]));
      set(s, { name: "nats_consumer_num_redelivered", consumer: "data-export", leader: false }, timeline([0, { start: 10, per: 1 }]));
      set(s, { name: "nats_consumer_ack_floor_stream_seq", consumer: "signals-processor", leader: false }, timeline([0, 17]));
      set(s, { name: "nats_stream_total_bytes", stream: "JOBS", leader: false }, timeline([0, 990_000_000]));
      set(s, { name: "nats_stream_last_seq", stream: "DEAD_LETTERS", leader: false }, timeline([0, { start: 3, per: 1 }]));
    },
    fires: [],
  },
  {
    name: "all exporters down: one NatsClusterUnobservable, no secondary alerts",
    evalMinute: 40,
    build: (s) => PODS.forEach((pod) => scrapeFails(s, pod, 10)),
    fires: [
      {
        alertname: "NatsClusterUnobservable",
        labels: { namespace: NS, severity: "critical" },
        summary: "No NATS exporter of the cluster can be scraped.",
        description:
          "Prometheus has no successful scrape of job fluo-queue-nats in fluo-queue: the whole NATS cluster is down, or " +
          "Prometheus cannot reach or does not select the exporters (PodMonitor labels, NetworkPolicy). Every other NATS " +
          "alert is blind until this is fixed.",
      },
    ],
  },
  {
    name: "a pod is gone: NatsServerDown and NatsClusterDegraded",
    evalMinute: 20,
    build: (s) => {
      scrapeFails(s, "nats-1", 10);
      for (const pod of ["nats-0", "nats-2"] as const) set(s, { name: "nats_varz_remotes", pod }, from(10, 2, 1));
    },
    fires: [
      {
        alertname: "NatsServerDown",
        labels: { ...targetLabels(config, "nats-1"), severity: "critical" },
        summary: "NATS server nats-1 is down.",
        description:
          "The pod nats-1 in fluo-queue cannot be scraped and the other servers have lost their route to a peer (fewer " +
          "than 2 peers): the NATS server is not running.",
      },
      {
        alertname: "NatsClusterDegraded",
        labels: { namespace: NS, severity: "warning" },
        summary: "The NATS cluster in fluo-queue is missing a server.",
        description:
          "No reachable server in fluo-queue sees all 2 peers (best: 1): at least one of the 3 servers is out of the " +
          "cluster. Replicated streams run without their full quorum margin.",
      },
    ],
  },
  {
    name: "only an exporter is down, the server is still a peer: NatsExporterDown",
    evalMinute: 20,
    build: (s) => scrapeFails(s, "nats-2", 10),
    fires: [
      {
        alertname: "NatsExporterDown",
        labels: { ...targetLabels(config, "nats-2"), severity: "warning" },
        summary: "The NATS exporter of nats-2 cannot be scraped.",
        description:
          "Prometheus cannot scrape the exporter sidecar of nats-2 in fluo-queue while the other servers still see it as " +
          "a peer: the server runs, but its alerts and dashboard panels are blind.",
      },
    ],
  },
  {
    name: "nats-server dead behind a live exporter (up stays 1): NatsServerUnreachable",
    evalMinute: 20,
    build: (s) => {
      serverUnreachable(config, s, "nats-2", 10);
      for (const pod of ["nats-0", "nats-1"] as const) set(s, { name: "nats_varz_remotes", pod }, from(10, 2, 1));
    },
    fires: [
      {
        alertname: "NatsServerUnreachable",
        labels: { ...varzLabels(config, "nats-2"), value: "unreachable", severity: "critical" },
        summary: "NATS server nats-2 does not answer its exporter.",
        description:
          "The exporter in nats-2 (fluo-queue) is up but cannot reach nats-server on the monitoring port: the server " +
          "process is dead or hung inside a running pod. Its last metrics are frozen.",
      },
      {
        alertname: "NatsClusterDegraded",
        labels: { namespace: NS, severity: "warning" },
        summary: "The NATS cluster in fluo-queue is missing a server.",
        description:
          "No reachable server in fluo-queue sees all 2 peers (best: 1): at least one of the 3 servers is out of the " +
          "cluster. Replicated streams run without their full quorum margin.",
      },
    ],
  },
  {
    name: "a server stays unhealthy: NatsServerUnhealthy",
    evalMinute: 25,
    build: (s) => {
      set(s, { name: "nats_healthz_status", pod: "nats-1" }, from(5, 0, 1));
      set(s, { name: "nats_healthz_status_value", pod: "nats-1" }, from(5, 1, "stale"));
      s.push({ name: "nats_healthz_status_value", labels: { ...varzLabels(config, "nats-1"), value: "unavailable" }, values: timeline([0, null], [5, 0]) });
    },
    fires: [
      {
        alertname: "NatsServerUnhealthy",
        labels: { ...varzLabels(config, "nats-1"), severity: "warning" },
        summary: "NATS server nats-1 reports unhealthy.",
        description:
          "nats-1 in fluo-queue answers but its /healthz is not ok for 15 minutes: JetStream is not current (catching " +
          "up, no quorum, or a stream/consumer failing to recover).",
      },
    ],
  },
  {
    name: "no server knows a meta leader: NatsMetaLeaderMissing",
    evalMinute: 15,
    build: (s) => {
      set(s, { name: "nats_server_jetstream_disabled" }, from(10, 0, "stale"));
      for (const pod of PODS) {
        s.push({ name: "nats_server_jetstream_disabled", labels: jszLabels(config, pod, null), values: timeline([0, null], [10, 0]) });
      }
    },
    fires: [
      {
        alertname: "NatsMetaLeaderMissing",
        labels: { namespace: NS, severity: "critical" },
        summary: "The JetStream cluster in fluo-queue has no meta leader.",
        description:
          "No reachable NATS server in fluo-queue knows a JetStream meta leader: streams and consumers cannot be " +
          "created, updated or deleted, and the meta group has probably lost its quorum.",
      },
    ],
  },
  {
    name: "a partial partition between nats-0 and nats-1: NatsRoutesLost on both, cluster not degraded",
    evalMinute: 15,
    build: (s) => {
      for (const pod of ["nats-0", "nats-1"] as const) set(s, { name: "nats_varz_remotes", pod }, from(5, 2, 1));
    },
    fires: (["nats-0", "nats-1"] as const).map((pod) => ({
      alertname: "NatsRoutesLost",
      labels: { ...varzLabels(config, pod), severity: "warning" },
      summary: `NATS server ${pod} lost routes to its peers.`,
      description:
        `${pod} in fluo-queue has routes to 1 of 2 peers while other servers see the full cluster: a network partition ` +
        "or NetworkPolicy is cutting the cluster port 6222.",
    })),
  },
  {
    name: "JetStream disabled on a server: NatsJetStreamDisabled",
    evalMinute: 15,
    build: (s) => set(s, { name: "nats_server_jetstream_disabled", pod: "nats-2" }, from(5, 0, 1)),
    fires: [
      {
        alertname: "NatsJetStreamDisabled",
        labels: { ...jszLabels(config, "nats-2"), severity: "critical" },
        summary: "JetStream is disabled on NATS server nats-2.",
        description:
          "nats-2 in fluo-queue runs without JetStream (it disables itself when its store directory is unusable or its " +
          "resources are exhausted): it hosts no stream replicas.",
      },
    ],
  },
  {
    name: "file store at 95%: NatsFileStoreUsageHigh and NatsFileStoreUsageCritical",
    evalMinute: 20,
    build: (s) => set(s, { name: "nats_varz_jetstream_stats_storage", pod: "nats-0" }, from(5, 214748365, 2040109466)),
    fires: (["High", "Critical"] as const).map((level) => ({
      alertname: `NatsFileStoreUsage${level}`,
      labels: { ...varzLabels(config, "nats-0"), severity: level === "High" ? "warning" : "critical" },
      summary: "JetStream file store of nats-0 is 95% full.",
      description:
        `nats-0 in fluo-queue uses 95% of its JetStream file store limit (threshold ${level === "High" ? 80 : 90}%). At ` +
        'the limit, publishes to file streams on this server fail with "insufficient resources".',
    })),
  },
  {
    name: "memory store at 85% on nats-1 and 95% on nats-2",
    evalMinute: 20,
    build: (s) => {
      set(s, { name: "nats_varz_jetstream_stats_memory", pod: "nats-1" }, from(5, 13421773, 228170138));
      set(s, { name: "nats_varz_jetstream_stats_memory", pod: "nats-2" }, from(5, 13421773, 255013683));
    },
    fires: [
      ...(["nats-1", "nats-2"] as const).map((pod) => ({
        alertname: "NatsMemoryStoreUsageHigh",
        labels: { ...varzLabels(config, pod), severity: "warning" },
        summary: `JetStream memory store of ${pod} is ${pod === "nats-1" ? 85 : 95}% full.`,
        description:
          `${pod} in fluo-queue uses ${pod === "nats-1" ? 85 : 95}% of its JetStream memory store limit (threshold 80%). ` +
          'At the limit, publishes to memory streams on this server fail with "insufficient resources".',
      })),
      {
        alertname: "NatsMemoryStoreUsageCritical",
        labels: { ...varzLabels(config, "nats-2"), severity: "critical" },
        summary: "JetStream memory store of nats-2 is 95% full.",
        description:
          "nats-2 in fluo-queue uses 95% of its JetStream memory store limit (threshold 90%). At the limit, publishes " +
          'to memory streams on this server fail with "insufficient resources".',
      },
    ],
  },
  {
    name: "a server reports a zero memory limit (store disabled) with bytes in use: no division by zero alert",
    evalMinute: 20,
    build: (s) => {
      set(s, { name: "nats_varz_jetstream_config_max_memory", pod: "nats-1" }, timeline([0, 0]));
      set(s, { name: "nats_varz_jetstream_stats_memory", pod: "nats-1" }, timeline([0, 4096]));
    },
    fires: [],
  },
  {
    name: "streams near max_bytes and max_msgs (leader series): NatsStreamNearByteLimit, NatsStreamNearMessageLimit",
    evalMinute: 20,
    build: (s) => {
      set(s, { name: "nats_stream_total_bytes", stream: "JOBS" }, from(5, 1_000_000, 950_000_000));
      set(s, { name: "nats_stream_total_messages", stream: "SIGNALS" }, from(5, 100, 95_000));
      // EVENTS is allowed 95%: 94% must stay silent.
      set(s, { name: "nats_stream_total_bytes", stream: "EVENTS" }, from(5, 1_000_000, 4_700_000_000));
    },
    fires: [
      {
        alertname: "NatsStreamNearByteLimit",
        labels: { namespace: NS, stream_name: "JOBS", severity: "warning" },
        summary: "Stream JOBS is at 95% of its max_bytes.",
        description:
          "Stream JOBS in fluo-queue holds 95% of its max_bytes limit in bytes. At the limit it discards its oldest " +
          "messages (discard old) or rejects new publishes (discard new).",
      },
      {
        alertname: "NatsStreamNearMessageLimit",
        labels: { namespace: NS, stream_name: "SIGNALS", severity: "warning" },
        summary: "Stream SIGNALS is at 95% of its max_msgs.",
        description:
          "Stream SIGNALS in fluo-queue holds 95% of its max_msgs limit in messages. At the limit it discards its " +
          "oldest messages (discard old) or rejects new publishes (discard new).",
      },
    ],
  },
  {
    name: "consumer lag over its threshold for 5 minutes on the leader: NatsConsumerLag",
    evalMinute: 20,
    build: (s) => set(s, { name: "nats_consumer_num_pending", consumer: "trace-analysis", leader: true }, from(10, 3, 1500)),
    fires: [
      {
        alertname: "NatsConsumerLag",
        labels: { ...consumerKey("JOBS", "trace-analysis"), severity: "warning" },
        summary: "Consumer JOBS/trace-analysis has 1500 undelivered messages.",
        description:
          "Consumer trace-analysis of stream JOBS in fluo-queue has had more undelivered messages (num_pending) than its " +
          "threshold for 5 minutes (now 1500): its workers do not keep up.",
      },
    ],
  },
  {
    name: "ack pending over the consumer's threshold: NatsConsumerAckPendingHigh",
    evalMinute: 20,
    build: (s) => set(s, { name: "nats_consumer_num_ack_pending", consumer: "data-export", leader: true }, from(5, 2, 60)),
    fires: [
      {
        alertname: "NatsConsumerAckPendingHigh",
        labels: { ...consumerKey("JOBS", "data-export"), severity: "warning" },
        summary: "Consumer JOBS/data-export has 60 unacknowledged messages.",
        description:
          "Consumer data-export of stream JOBS in fluo-queue has had 60 delivered but unacknowledged messages for 10 " +
          "minutes; near max_ack_pending the server stops delivering to it.",
      },
    ],
  },
  {
    name: "pending work and a frozen ack floor: NatsConsumerStalled",
    evalMinute: 35,
    build: (s) => {
      const leader = { consumer: "signals-processor", leader: true } as const;
      set(s, { ...leader, name: "nats_consumer_num_pending" }, timeline([0, 30]));
      set(s, { ...leader, name: "nats_consumer_ack_floor_stream_seq" }, from(5, 4990, 5012));
    },
    fires: [
      {
        alertname: "NatsConsumerStalled",
        labels: { ...consumerKey("SIGNALS", "signals-processor"), severity: "critical" },
        summary: "Consumer SIGNALS/signals-processor makes no progress.",
        description:
          "Consumer signals-processor of stream SIGNALS in fluo-queue has had messages waiting for 20 minutes and its " +
          "ack floor has not moved: no worker acknowledges anything.",
      },
    ],
  },
  {
    name: "redeliveries keep rising (poison jobs): NatsConsumerRedeliveries",
    evalMinute: 30,
    build: (s) =>
      set(s, { name: "nats_consumer_num_redelivered", consumer: "data-export", leader: true }, from(5, 0, { start: 1, per: 1 })),
    fires: [
      {
        alertname: "NatsConsumerRedeliveries",
        labels: { ...consumerKey("JOBS", "data-export"), severity: "warning" },
        summary: "Redeliveries rising on consumer JOBS/data-export.",
        description:
          "Consumer data-export of stream JOBS in fluo-queue has 51 unacknowledged messages that were already " +
          "redelivered, and the number keeps rising: workers fail or time out on these messages (poison jobs). After " +
          "max_deliver attempts they go to the dead-letter stream DEAD_LETTERS.",
      },
    ],
  },
  {
    name: "two messages reach the dead-letter stream: NatsDeadLetterMessages",
    evalMinute: 22,
    build: (s) => set(s, { name: "nats_stream_last_seq", stream: "DEAD_LETTERS" }, from(20, 3, 5)),
    fires: [
      {
        alertname: "NatsDeadLetterMessages",
        labels: { namespace: NS, stream_name: "DEAD_LETTERS", severity: "warning" },
        summary: "Messages arrive in the dead-letter stream DEAD_LETTERS.",
        description:
          "About 2 messages reached the dead-letter stream DEAD_LETTERS in fluo-queue in the last 10 minutes: jobs " +
          "exhausted max_deliver and were given up.",
      },
    ],
  },
  {
    name: "slow consumers keep appearing: NatsSlowConsumers",
    evalMinute: 20,
    build: (s) => set(s, { name: "nats_varz_slow_consumers", pod: "nats-1" }, from(5, 0, { start: 1, per: 1 })),
    fires: [
      {
        alertname: "NatsSlowConsumers",
        labels: { ...varzLabels(config, "nats-1"), severity: "warning" },
        summary: "NATS server nats-1 keeps disconnecting slow consumers.",
        description:
          "nats-1 in fluo-queue has flagged slow consumers for 10 minutes (10 in the last 5 minutes): clients or routes " +
          "do not read fast enough and lose messages.",
      },
    ],
  },
  {
    name: "JetStream API errors rising: NatsJetStreamApiErrors",
    evalMinute: 20,
    build: (s) => set(s, { name: "nats_varz_jetstream_stats_api_errors", pod: "nats-0" }, from(5, 3, { start: 8, per: 5 })),
    fires: [
      {
        alertname: "NatsJetStreamApiErrors",
        labels: { ...varzLabels(config, "nats-0"), severity: "warning" },
        summary: "JetStream API errors rising on nats-0.",
        description:
          "nats-0 in fluo-queue answered 50 JetStream API requests with an error in 5 minutes (threshold 10): clients use " +
          "missing streams/consumers, lack permissions or hit limits.",
      },
    ],
  },
  {
    name: "nats-server restarts three times in a pod: NatsServerRestarting",
    evalMinute: 25,
    build: (s) =>
      set(
        s,
        { name: "nats_varz_start", pod: "nats-2" },
        timeline([0, 1795721401917], [10, 1795722001917], [15, 1795722301917], [20, 1795722601917]),
      ),
    fires: [
      {
        alertname: "NatsServerRestarting",
        labels: { namespace: NS, pod: "nats-2", severity: "warning" },
        summary: "NATS server nats-2 restarted 3 times in 30 minutes.",
        description:
          "nats-server in nats-2 (fluo-queue) started 3 times in 30 minutes (threshold 2): it is crash-looping or being " +
          "OOM-killed.",
      },
    ],
  },
];

describe("alert rules", () => {
  it("pass promtool check rules", () => {
    const result = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": rules });
    expect(result.output).toContain("SUCCESS");
    expect(result.status).toBe(0);
  });

  it("promtool check rules rejects a broken expression (the check is real)", () => {
    const broken: RuleFile = {
      groups: [{ name: "broken", rules: [{ record: "x:y:z", expr: "rate(nats_varz_in_msgs[5m]" }] }],
    };
    const result = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": broken });
    expect(result.status).not.toBe(0);
  });

  it("every alert has a scenario that fires it", () => {
    const fired = new Set(scenarios.flatMap((s) => s.fires.map((f) => f.alertname)));
    expect(alertNames(rules).filter((n) => !fired.has(n))).toEqual([]);
  });

  it("leaders in the fixture are spread over the pods the scenarios use", () => {
    expect(new Set(Object.values(STREAM_LEADERS))).toEqual(new Set(["nats-0", "nats-1"]));
    expect(CONSUMER_LEADERS["data-export"]).toBe("nats-1");
  });

  for (const scenario of scenarios) {
    it(`promtool test rules: ${scenario.name}`, () => {
      const result = promtool(["test", "rules", "test.yaml"], { "rules.yaml": rules, "test.yaml": promtoolTest(rules, scenario) });
      expect(result.output).toContain("SUCCESS");
      expect(result.status).toBe(0);
    });
  }

  it("promtool test rules fails when an expected alert does not fire (the scenarios can fail)", () => {
    const wrong: Scenario = {
      name: "healthy cluster wrongly expected to fire NatsServerDown",
      evalMinute: 45,
      build: () => {},
      fires: [
        { alertname: "NatsServerDown", labels: { ...targetLabels(config, "nats-0"), severity: "critical" }, summary: "x", description: "y" },
      ],
    };
    const result = promtool(["test", "rules", "test.yaml"], { "rules.yaml": rules, "test.yaml": promtoolTest(rules, wrong) });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("NatsServerDown");
  });
});
