// The Prometheus alert rules of the NATS cluster as a plain rule-file object (the `spec` of a PrometheusRule,
// or a rules file). Every expression selects this stack's series by job and namespace (monitoring/scrape.ts).
//
// Traps that shape the expressions (shared NOTES.md, verified against the exporter's reference):
// - every replica reports every stream and consumer and followers' numbers are stale: stream and consumer rules
//   read only is_stream_leader="true" / is_consumer_leader="true" series, aggregated by stream/consumer so the
//   alert identity (and its `for` timer) survives a leader move;
// - a dead nats-server behind a live exporter keeps `up` at 1 and freezes the varz gauges: "unreachable" is read
//   from the exporter's healthz probe (nats_healthz_status_value{value="unreachable"}, seen on a live exporter
//   whose server was SIGKILLed), and varz values of unreachable servers are ignored;
// - when no exporter can be scraped, one alert (NatsClusterUnobservable) fires and nothing else: rules that need
//   data have none, and rules over ranges also require a current sample.

import type { StackConfig } from "../infra/stackConfig";
import { METRICS_JOB, natsSelector } from "./scrape";
import {
  assertValidTargets,
  DEFAULT_NEAR_LIMIT_RATIO,
  DEFAULT_REDELIVERED_THRESHOLD,
  type AlertTargets,
  type ConsumerTarget,
  type StreamTarget,
} from "./targets";

export type Severity = "critical" | "warning";

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: Severity } & Readonly<Record<string, string>>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export type Rule = AlertingRule | RecordingRule;

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** The Prometheus rule file shape (also the `spec` of a PrometheusRule). */
export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

export const RULE_GROUP_PREFIX = "fluo-queue-nats";

/** Anchor of an alert's runbook section: the README has one per alert. */
export function runbookAnchor(alert: string): string {
  return `runbook-${alert.toLowerCase()}`;
}

export function runbookUrl(config: StackConfig, alert: string): string {
  return `${config.runbookBaseUrl}#${runbookAnchor(alert)}`;
}

/** A PromQL string literal (label values come from the catalog; quote them safely). */
function quote(value: string): string {
  return JSON.stringify(value);
}

const CONSUMER_KEY = "namespace, stream_name, consumer_name";
const STREAM_KEY = "namespace, stream_name";
const POD_KEY = "namespace, pod";

/** Names of the recording rules; alerts over time ranges read these continuous, leader-only series. */
export const RECORDS = {
  consumerAckFloor: "consumer:nats_consumer_ack_floor_stream_seq:leader",
  consumerPending: "consumer:nats_consumer_num_pending:leader",
  consumerAckPending: "consumer:nats_consumer_num_ack_pending:leader",
  consumerRedelivered: "consumer:nats_consumer_num_redelivered:leader",
  streamLastSeq: "stream:nats_stream_last_seq:leader",
  serverStart: "pod:nats_varz_start:max",
} as const;

interface Builder {
  readonly config: StackConfig;
  readonly targets: AlertTargets;
  /** `{job=...,namespace=...,<extra>}` */
  sel(extra?: string): string;
  /** `{namespace=...,<extra>}` for recorded series (aggregated, without job). */
  rec(extra?: string): string;
  /** A server whose exporter answers but cannot reach nats-server (its varz values are frozen). */
  readonly unreachable: string;
  /** A per-pod varz expression restricted to servers whose values are current. */
  live(expr: string): string;
  alert(rule: Omit<AlertingRule, "labels" | "annotations"> & {
    severity: Severity;
    summary: string;
    description: string;
    namespaceLabel?: boolean;
  }): AlertingRule;
}

function builder(config: StackConfig, targets: AlertTargets): Builder {
  const base = natsSelector(config);
  const sel = (extra?: string) => `{${base}${extra ? `,${extra}` : ""}}`;
  const rec = (extra?: string) => `{namespace=${quote(config.namespace)}${extra ? `,${extra}` : ""}}`;
  // The exporter writes nats_healthz_status only after a successful healthz request; when the request fails it
  // writes just nats_healthz_status_value{value="unreachable"} (value 0): its presence is the signal.
  const unreachable = `nats_healthz_status_value${sel('value="unreachable"')}`;
  return {
    config,
    targets,
    sel,
    rec,
    unreachable,
    live: (expr) => `(${expr} unless on (${POD_KEY}) ${unreachable})`,
    alert: ({ severity, summary, description, namespaceLabel, ...rule }) => ({
      ...rule,
      // Cluster-wide expressions (absent, count) may lose the namespace label; routing needs it.
      labels: { severity, ...(namespaceLabel ? { namespace: config.namespace } : {}) },
      annotations: { summary, description, runbook_url: runbookUrl(config, rule.alert) },
    }),
  };
}

const orJoin = (clauses: readonly string[]): string => clauses.map((c) => `(${c})`).join("\nor\n");

function recordingRules(b: Builder): RecordingRule[] {
  const leaderConsumer = (metric: string) => `max by (${CONSUMER_KEY}) (${metric}${b.sel('is_consumer_leader="true"')})`;
  return [
    { record: RECORDS.consumerAckFloor, expr: leaderConsumer("nats_consumer_ack_floor_stream_seq") },
    { record: RECORDS.consumerPending, expr: leaderConsumer("nats_consumer_num_pending") },
    { record: RECORDS.consumerAckPending, expr: leaderConsumer("nats_consumer_num_ack_pending") },
    { record: RECORDS.consumerRedelivered, expr: leaderConsumer("nats_consumer_num_redelivered") },
    { record: RECORDS.streamLastSeq, expr: `max by (${STREAM_KEY}) (nats_stream_last_seq${b.sel('is_stream_leader="true"')})` },
    // The exporter's server_id label changes when the pod restarts; per pod the start time is one series.
    { record: RECORDS.serverStart, expr: `max by (${POD_KEY}) (nats_varz_start${b.sel()})` },
  ];
}

function clusterRules(b: Builder): AlertingRule[] {
  const n = b.targets.clusterSize;
  const noScrape = `absent(up${b.sel()} == 1)`;
  // Peers as seen by the servers that still answer: below n-1 on every one of them, a server is gone.
  const fewestMissing = `max by (namespace) (${b.live(`nats_varz_remotes${b.sel()}`)}) < ${n - 1}`;
  const rules: AlertingRule[] = [
    b.alert({
      alert: "NatsClusterUnobservable",
      expr: noScrape,
      for: "5m",
      severity: "critical",
      namespaceLabel: true,
      summary: "No NATS exporter of the cluster can be scraped.",
      description:
        `Prometheus has no successful scrape of job ${METRICS_JOB} in ${b.config.namespace}: the whole NATS cluster ` +
        "is down, or Prometheus cannot reach or does not select the exporters (PodMonitor labels, NetworkPolicy). " +
        "Every other NATS alert is blind until this is fixed.",
    }),
  ];
  if (n === 1) {
    rules.push(
      b.alert({
        alert: "NatsServerDown",
        expr: `up${b.sel()} == 0`,
        for: "1m",
        severity: "critical",
        summary: "NATS server {{ $labels.pod }} is down.",
        description: "The pod {{ $labels.pod }} in {{ $labels.namespace }} cannot be scraped; the single NATS server is not serving.",
      }),
    );
  } else {
    rules.push(
      b.alert({
        alert: "NatsServerDown",
        expr: `up${b.sel()} == 0\nand on ()\n${fewestMissing}`,
        for: "1m",
        severity: "critical",
        summary: "NATS server {{ $labels.pod }} is down.",
        description:
          "The pod {{ $labels.pod }} in {{ $labels.namespace }} cannot be scraped and the other servers have lost " +
          `their route to a peer (fewer than ${n - 1} peers): the NATS server is not running.`,
      }),
      b.alert({
        alert: "NatsExporterDown",
        // The server itself is still a cluster member (its peers see all routes): only its metrics are missing.
        expr: `up${b.sel()} == 0\nunless on ()\n${fewestMissing}\nunless on ()\n${noScrape}`,
        for: "5m",
        severity: "warning",
        summary: "The NATS exporter of {{ $labels.pod }} cannot be scraped.",
        description:
          "Prometheus cannot scrape the exporter sidecar of {{ $labels.pod }} in {{ $labels.namespace }} while the " +
          "other servers still see it as a peer: the server runs, but its alerts and dashboard panels are blind.",
      }),
      b.alert({
        alert: "NatsMetaLeaderMissing",
        expr:
          `count by (namespace) (nats_server_jetstream_disabled${b.sel()} == 0)\n` +
          `unless on (namespace)\ncount by (namespace) (nats_server_jetstream_disabled${b.sel('meta_leader!=""')})`,
        for: "1m",
        severity: "critical",
        summary: "The JetStream cluster in {{ $labels.namespace }} has no meta leader.",
        description:
          "No reachable NATS server in {{ $labels.namespace }} knows a JetStream meta leader: streams and consumers " +
          "cannot be created, updated or deleted, and the meta group has probably lost its quorum.",
      }),
      b.alert({
        alert: "NatsClusterDegraded",
        expr: fewestMissing,
        for: "2m",
        severity: "warning",
        summary: "The NATS cluster in {{ $labels.namespace }} is missing a server.",
        description:
          `No reachable server in {{ $labels.namespace }} sees all ${n - 1} peers (best: {{ $value }}): at least one of ` +
          `the ${n} servers is out of the cluster. Replicated streams run without their full quorum margin.`,
      }),
      b.alert({
        alert: "NatsRoutesLost",
        // A partial partition: the cluster as a whole is complete, but this server misses some routes.
        expr: `${b.live(`nats_varz_remotes${b.sel()}`)} < ${n - 1}\nunless on (namespace)\n${fewestMissing}`,
        for: "5m",
        severity: "warning",
        summary: "NATS server {{ $labels.pod }} lost routes to its peers.",
        description:
          `{{ $labels.pod }} in {{ $labels.namespace }} has routes to {{ $value }} of ${n - 1} peers while other ` +
          "servers see the full cluster: a network partition or NetworkPolicy is cutting the cluster port 6222.",
      }),
    );
  }
  rules.push(
    b.alert({
      alert: "NatsServerUnreachable",
      expr: b.unreachable,
      for: "1m",
      severity: "critical",
      summary: "NATS server {{ $labels.pod }} does not answer its exporter.",
      description:
        "The exporter in {{ $labels.pod }} ({{ $labels.namespace }}) is up but cannot reach nats-server on the " +
        "monitoring port: the server process is dead or hung inside a running pod. Its last metrics are frozen.",
    }),
    b.alert({
      alert: "NatsServerUnhealthy",
      expr: `nats_healthz_status${b.sel()} == 1\nunless on (${POD_KEY})\n${b.unreachable}`,
      // The startup probe gives a restarted server up to 15 minutes to catch up before Kubernetes gives up.
      for: "15m",
      severity: "warning",
      summary: "NATS server {{ $labels.pod }} reports unhealthy.",
      description:
        "{{ $labels.pod }} in {{ $labels.namespace }} answers but its /healthz is not ok for 15 minutes: " +
        "JetStream is not current (catching up, no quorum, or a stream/consumer failing to recover).",
    }),
    b.alert({
      alert: "NatsJetStreamDisabled",
      expr: `nats_server_jetstream_disabled${b.sel()} == 1`,
      for: "5m",
      severity: "critical",
      summary: "JetStream is disabled on NATS server {{ $labels.pod }}.",
      description:
        "{{ $labels.pod }} in {{ $labels.namespace }} runs without JetStream (it disables itself when its store " +
        "directory is unusable or its resources are exhausted): it hosts no stream replicas.",
    }),
  );
  return rules;
}

function storageRules(b: Builder): AlertingRule[] {
  const { server } = b.targets;
  const stores = [
    { name: "File", configured: b.targets.maxFileStore, used: "nats_varz_jetstream_stats_storage", limit: "nats_varz_jetstream_config_max_storage" },
    { name: "Memory", configured: b.targets.maxMemoryStore, used: "nats_varz_jetstream_stats_memory", limit: "nats_varz_jetstream_config_max_memory" },
  ];
  const rules: AlertingRule[] = [];
  for (const store of stores) {
    // A store limited to 0 is disabled: there is nothing to fill, and dividing by it would be meaningless.
    if (store.configured <= 0) continue;
    const ratio = `${b.live(`${store.used}${b.sel()}`)}\n/ (${store.limit}${b.sel()} > 0)`;
    const lower = store.name.toLowerCase();
    for (const [severity, threshold, suffix, forDuration] of [
      ["warning", server.storageWarningRatio, "High", "10m"],
      ["critical", server.storageCriticalRatio, "Critical", "5m"],
    ] as const) {
      rules.push(
        b.alert({
          alert: `Nats${store.name}StoreUsage${suffix}`,
          expr: `${ratio} > ${threshold}`,
          for: forDuration,
          severity,
          summary: `JetStream ${lower} store of {{ $labels.pod }} is {{ $value | humanizePercentage }} full.`,
          description:
            `{{ $labels.pod }} in {{ $labels.namespace }} uses {{ $value | humanizePercentage }} of its JetStream ` +
            `${lower} store limit (threshold ${threshold * 100}%). At the limit, publishes to ${lower} streams ` +
            "on this server fail with \"insufficient resources\".",
        }),
      );
    }
  }
  return rules;
}

function streamLimitRules(b: Builder): AlertingRule[] {
  const limits = [
    { alert: "NatsStreamNearByteLimit", what: "bytes", field: "max_bytes", used: "nats_stream_total_bytes", limit: "nats_stream_limit_bytes", max: (s: StreamTarget) => s.maxBytes },
    { alert: "NatsStreamNearMessageLimit", what: "messages", field: "max_msgs", used: "nats_stream_total_messages", limit: "nats_stream_limit_messages", max: (s: StreamTarget) => s.maxMsgs },
  ];
  const rules: AlertingRule[] = [];
  for (const limit of limits) {
    const limited = b.targets.streams.filter((s) => limit.max(s) > 0);
    if (limited.length === 0) continue;
    const clause = (s: StreamTarget) => {
      const sel = b.sel(`stream_name=${quote(s.name)},is_stream_leader="true"`);
      // Compared against the limit the server reports, which is the one it enforces.
      return (
        `max by (${STREAM_KEY}) (${limit.used}${sel})\n/ max by (${STREAM_KEY}) (${limit.limit}${sel} > 0)\n` +
        `> ${s.nearLimitRatio ?? DEFAULT_NEAR_LIMIT_RATIO}`
      );
    };
    rules.push(
      b.alert({
        alert: limit.alert,
        expr: orJoin(limited.map(clause)),
        for: "10m",
        severity: "warning",
        summary: `Stream {{ $labels.stream_name }} is at {{ $value | humanizePercentage }} of its ${limit.field}.`,
        description:
          `Stream {{ $labels.stream_name }} in {{ $labels.namespace }} holds {{ $value | humanizePercentage }} of its ` +
          `${limit.field} limit in ${limit.what}. At the limit it discards its oldest messages (discard old) or ` +
          "rejects new publishes (discard new).",
      }),
    );
  }
  return rules;
}

function consumerRules(b: Builder): AlertingRule[] {
  const { consumers } = b.targets;
  const leader = (metric: string, c: ConsumerTarget) =>
    `max by (${CONSUMER_KEY}) (${metric}${b.sel(`stream_name=${quote(c.stream)},consumer_name=${quote(c.name)},is_consumer_leader="true"`)})`;
  const recOf = (record: string, c: ConsumerTarget) =>
    `${record}${b.rec(`stream_name=${quote(c.stream)},consumer_name=${quote(c.name)}`)}`;
  const rules: AlertingRule[] = [];
  if (consumers.length > 0) {
    rules.push(
      b.alert({
        alert: "NatsConsumerLag",
        expr: orJoin(consumers.map((c) => `${leader("nats_consumer_num_pending", c)} > ${c.pendingThreshold}`)),
        for: "5m",
        severity: "warning",
        summary: "Consumer {{ $labels.stream_name }}/{{ $labels.consumer_name }} has {{ $value }} undelivered messages.",
        description:
          "Consumer {{ $labels.consumer_name }} of stream {{ $labels.stream_name }} in {{ $labels.namespace }} has " +
          "had more undelivered messages (num_pending) than its threshold for 5 minutes (now {{ $value }}): " +
          "its workers do not keep up.",
      }),
      b.alert({
        alert: "NatsConsumerAckPendingHigh",
        expr: orJoin(consumers.map((c) => `${leader("nats_consumer_num_ack_pending", c)} > ${c.ackPendingThreshold}`)),
        for: "10m",
        severity: "warning",
        summary: "Consumer {{ $labels.stream_name }}/{{ $labels.consumer_name }} has {{ $value }} unacknowledged messages.",
        description:
          "Consumer {{ $labels.consumer_name }} of stream {{ $labels.stream_name }} in {{ $labels.namespace }} has " +
          "had {{ $value }} delivered but unacknowledged messages for 10 minutes; near max_ack_pending the server " +
          "stops delivering to it.",
      }),
      b.alert({
        alert: "NatsConsumerRedeliveries",
        expr: orJoin(
          consumers.map((c) => {
            const redelivered = recOf(RECORDS.consumerRedelivered, c);
            return `${redelivered} >= ${c.redeliveredThreshold ?? DEFAULT_REDELIVERED_THRESHOLD}\nand\ndelta(${redelivered}[15m]) > 0`;
          }),
        ),
        for: "10m",
        severity: "warning",
        summary: "Redeliveries rising on consumer {{ $labels.stream_name }}/{{ $labels.consumer_name }}.",
        description:
          "Consumer {{ $labels.consumer_name }} of stream {{ $labels.stream_name }} in {{ $labels.namespace }} has " +
          "{{ $value }} unacknowledged messages that were already redelivered, and the number keeps rising: " +
          "workers fail or time out on these messages (poison jobs). After max_deliver attempts they go to the " +
          `dead-letter stream ${b.targets.deadLetterStream}.`,
      }),
    );
  }
  // Any consumer, listed or not: pending work and an ack floor that has not moved for 15 minutes.
  const window = "15m";
  const pending = `${RECORDS.consumerPending}${b.rec()}`;
  const ackPending = `${RECORDS.consumerAckPending}${b.rec()}`;
  const floor = `${RECORDS.consumerAckFloor}${b.rec()}`;
  rules.push(
    b.alert({
      alert: "NatsConsumerStalled",
      expr:
        `(min_over_time(${pending}[${window}]) > 0 or min_over_time(${ackPending}[${window}]) > 0)\n` +
        `and on (${CONSUMER_KEY})\nchanges(${floor}[${window}]) == 0\n` +
        // Only consumers that still report: stale ranges of a vanished series must not fire.
        `and on (${CONSUMER_KEY})\n${floor}`,
      for: "5m",
      severity: "critical",
      summary: "Consumer {{ $labels.stream_name }}/{{ $labels.consumer_name }} makes no progress.",
      description:
        "Consumer {{ $labels.consumer_name }} of stream {{ $labels.stream_name }} in {{ $labels.namespace }} has had " +
        "messages waiting for 20 minutes and its ack floor has not moved: no worker acknowledges anything.",
    }),
  );
  const dlq = `${RECORDS.streamLastSeq}${b.rec(`stream_name=${quote(b.targets.deadLetterStream)}`)}`;
  rules.push(
    b.alert({
      alert: "NatsDeadLetterMessages",
      expr: `increase(${dlq}[10m]) > 0\nand on (${STREAM_KEY})\n${dlq}`,
      severity: "warning",
      summary: `Messages arrive in the dead-letter stream ${b.targets.deadLetterStream}.`,
      // increase() extrapolates to the window's edges (2 new messages read as 2.105 under Prometheus 3's
      // left-open ranges): the count is rounded, it is "about" anyway.
      description:
        'About {{ $value | printf "%.0f" }} messages reached the dead-letter stream {{ $labels.stream_name }} in ' +
        "{{ $labels.namespace }} in the last 10 minutes: jobs exhausted max_deliver and were given up.",
    }),
  );
  return rules;
}

function serverRules(b: Builder): AlertingRule[] {
  const { server } = b.targets;
  const start = `${RECORDS.serverStart}${b.rec()}`;
  return [
    b.alert({
      alert: "NatsSlowConsumers",
      expr: `increase(nats_varz_slow_consumers${b.sel()}[5m]) > 0`,
      for: "5m",
      severity: "warning",
      summary: "NATS server {{ $labels.pod }} keeps disconnecting slow consumers.",
      description:
        "{{ $labels.pod }} in {{ $labels.namespace }} has flagged slow consumers for 10 minutes " +
        "({{ $value | humanize }} in the last 5 minutes): clients or routes do not read fast enough and lose messages.",
    }),
    b.alert({
      alert: "NatsJetStreamApiErrors",
      expr: `increase(nats_varz_jetstream_stats_api_errors${b.sel()}[5m]) > ${server.apiErrorsPer5m}`,
      for: "5m",
      severity: "warning",
      summary: "JetStream API errors rising on {{ $labels.pod }}.",
      description:
        "{{ $labels.pod }} in {{ $labels.namespace }} answered {{ $value | humanize }} JetStream API requests with an " +
        `error in 5 minutes (threshold ${server.apiErrorsPer5m}): clients use missing streams/consumers, lack ` +
        "permissions or hit limits.",
    }),
    b.alert({
      alert: "NatsServerRestarting",
      expr: `changes(${start}[30m]) >= ${server.restartsPer30m}\nand on (${POD_KEY})\n${start}`,
      severity: "warning",
      summary: "NATS server {{ $labels.pod }} restarted {{ $value }} times in 30 minutes.",
      description:
        "nats-server in {{ $labels.pod }} ({{ $labels.namespace }}) started {{ $value }} times in 30 minutes " +
        `(threshold ${server.restartsPer30m}): it is crash-looping or being OOM-killed.`,
    }),
  ];
}

/**
 * Two regions (docs/regions.md): the leafnode link is the mirrors' only path. The exporter (v0.20.1) reports no
 * mirror lag, so what one region's Prometheus can see is the link itself: `nats_varz_leafnodes` counts a
 * server's leafnode connections, accepted (primary) and solicited (standby). None on any answering server for
 * 5 minutes means nothing replicates; the lag across both regions needs both regions' series (docs/regions.md).
 */
function regionRules(b: Builder): AlertingRule[] {
  const { region, peerRegion, regionRole } = b.config;
  if (region === undefined || peerRegion === undefined) return [];
  const effect =
    regionRole === "standby"
      ? `its mirrors of ${peerRegion}'s streams stopped: a failover now loses everything published in ${peerRegion} since`
      : `the standby region ${peerRegion} no longer receives this region's streams: its copies age, and a failover would lose everything published since`;
  return [
    b.alert({
      alert: "NatsRegionLinkDown",
      expr: `sum by (namespace) (${b.live(`nats_varz_leafnodes${b.sel()}`)}) < 1`,
      for: "5m",
      severity: "critical",
      summary: `Region ${region} has no leafnode link to region ${peerRegion}.`,
      description: `No answering NATS server of region ${region} ({{ $labels.namespace }}) has held a leafnode connection with region ${peerRegion} for 5 minutes: ${effect}.`,
    }),
  ];
}

/** The alert and recording rules for one stack and its stream catalog. */
export function renderAlertRules(config: StackConfig, targets: AlertTargets): RuleFile {
  assertValidTargets(targets);
  const b = builder(config, targets);
  const group = (name: string, rules: readonly Rule[]): RuleGroup => ({ name: `${RULE_GROUP_PREFIX}.${name}`, rules });
  return {
    groups: [
      group("records", recordingRules(b)),
      group("cluster", clusterRules(b)),
      group("storage", [...storageRules(b), ...streamLimitRules(b)]),
      group("consumers", consumerRules(b)),
      group("server", serverRules(b)),
      // Only region stacks have the group: a single-region stack's rules are unchanged.
      ...(config.region !== undefined ? [group("region", regionRules(b))] : []),
    ],
  };
}

export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return "alert" in rule;
}

/** Every alert name in the file, in order, once. */
export function alertNames(file: RuleFile): string[] {
  return [...new Set(file.groups.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => r.alert)))];
}
