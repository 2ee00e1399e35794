// Input series for `promtool test rules`: what Prometheus stores for a 3-node cluster scraped through the
// PodMonitor. Exporter labels follow the recorded scrapes in monitoring/testdata/ (server_id, server_name, cluster,
// meta_leader, is_*_leader, account, stream_name, consumer_name, ...); target labels follow monitoring/scrape.ts.
// A healthy cluster is built once; each scenario changes the series it is about.

import type { StackConfig } from "../infra/stackConfig";
import { STREAM_ACCOUNT } from "../infra/users";
import { METRICS_JOB, METRICS_PORT_NAME } from "./scrape";
import type { AlertTargets } from "./targets";

export const INTERVAL = "30s";
/** 60 minutes of samples at the scrape interval. */
export const END_MINUTE = 60;
const PER_MINUTE = 2;

/** A value from a given minute on: a constant, a ramp (+per each sample), no samples (null), or the end. */
export type Segment = number | { readonly start: number; readonly per: number } | null | "stale";

/** promtool's expanding notation for a series that changes at the given minutes. */
export function timeline(...segments: readonly (readonly [minute: number, value: Segment])[]): string {
  const parts: string[] = [];
  segments.forEach(([from, value], i) => {
    const until = i + 1 < segments.length ? segments[i + 1][0] : END_MINUTE;
    const samples = (until - from) * PER_MINUTE + (i + 1 < segments.length ? 0 : 1);
    if (from === 0 && i > 0) throw new Error("only the first segment may start at minute 0");
    if (value === "stale") {
      parts.push("stale");
      return;
    }
    if (samples <= 0) return;
    if (value === null) {
      parts.push(`_x${samples}`);
      return;
    }
    const [start, per] = typeof value === "number" ? [value, 0] : [value.start, value.per];
    parts.push(`${start}${per >= 0 ? "+" : "-"}${Math.abs(per)}x${samples - 1}`);
  });
  return parts.join(" ");
}

export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  values: string;
}

export const PODS = ["nats-0", "nats-1", "nats-2"] as const;
export type Pod = (typeof PODS)[number];
/** Server ids as the exporter reports them (-use_internal_server_id); nats-2's is the sample's. */
export const SERVER_IDS: Readonly<Record<Pod, string>> = {
  "nats-0": "NBW4YVZLUT2I7QQ5AZRVJRTUA5TQZ3AVGGYVFKJ6A3BDIZ5CJN6YYJGW",
  "nats-1": "NDJ3XQHNFMHX6G4QSB6WYLJ6MN2A3OX3XBHNRN2GAW6ZNZKQXGCFB5EQ",
  "nats-2": "NAXCHKK2RJCPDUQ6HFEE4ENNRV6ZKVDTGYBFOAHDF7DY3NLADL2Z2JDL",
};
export const META_LEADER: Pod = "nats-0";
export const STREAM_LEADERS: Readonly<Record<string, Pod>> = {
  JOBS: "nats-0",
  SIGNALS: "nats-1",
  EVENTS: "nats-0",
  DEAD_LETTERS: "nats-1",
};
export const CONSUMER_LEADERS: Readonly<Record<string, Pod>> = {
  "trace-analysis": "nats-0",
  "data-export": "nats-1",
  "signals-processor": "nats-0",
};

/** Labels Prometheus adds to every series of a pod (PodMonitor + operator defaults). */
export function targetLabels(config: StackConfig, pod: Pod): Record<string, string> {
  return { job: METRICS_JOB, namespace: config.namespace, pod, instance: pod, container: "exporter", endpoint: METRICS_PORT_NAME };
}

/** Labels of a varz/healthz series of a pod. */
export function varzLabels(config: StackConfig, pod: Pod): Record<string, string> {
  return { server_id: SERVER_IDS[pod], ...targetLabels(config, pod) };
}

/** Labels of a jsz server-level series (meta leader known unless `metaLeader` is null: then the label is empty). */
export function jszLabels(config: StackConfig, pod: Pod, metaLeader: Pod | null = META_LEADER): Record<string, string> {
  return {
    ...varzLabels(config, pod),
    server_name: pod,
    cluster: config.clusterName,
    ...(metaLeader ? { meta_leader: metaLeader } : {}),
    is_meta_leader: String(metaLeader === pod),
  };
}

function streamLabels(config: StackConfig, pod: Pod, stream: string): Record<string, string> {
  const leader = STREAM_LEADERS[stream];
  return {
    ...jszLabels(config, pod),
    account: STREAM_ACCOUNT,
    account_name: STREAM_ACCOUNT,
    account_id: STREAM_ACCOUNT,
    stream_name: stream,
    stream_leader: leader,
    is_stream_leader: String(leader === pod),
  };
}

function consumerLabels(config: StackConfig, pod: Pod, stream: string, consumer: string): Record<string, string> {
  const leader = CONSUMER_LEADERS[consumer];
  return {
    ...streamLabels(config, pod, stream),
    consumer_name: consumer,
    consumer_leader: leader,
    is_consumer_leader: String(leader === pod),
  };
}

const always = (value: Segment) => timeline([0, value]);

/** Every series the rules read, for a healthy cluster with steady traffic. */
export function healthyCluster(config: StackConfig, targets: AlertTargets): Series[] {
  const out: Series[] = [];
  const add = (name: string, labels: Record<string, string>, values: string) => out.push({ name, labels, values });
  PODS.forEach((pod, i) => {
    add("up", targetLabels(config, pod), always(1));
    const varz = varzLabels(config, pod);
    add("nats_healthz_status", varz, always(0));
    add("nats_healthz_status_value", { ...varz, value: "ok" }, always(1));
    add("nats_varz_remotes", varz, always(2));
    add("nats_varz_routes", varz, always(8));
    add("nats_varz_start", varz, always(1795721399917 + i * 1000));
    add("nats_varz_in_msgs", varz, always({ start: 1192, per: 40 }));
    add("nats_varz_jetstream_config_max_storage", varz, always(config.bytes.maxFileStore));
    add("nats_varz_jetstream_config_max_memory", varz, always(config.bytes.maxMemoryStore));
    add("nats_varz_jetstream_stats_storage", varz, always(Math.round(config.bytes.maxFileStore * 0.1)));
    add("nats_varz_jetstream_stats_memory", varz, always(Math.round(config.bytes.maxMemoryStore * 0.05)));
    add("nats_varz_slow_consumers", varz, always(0));
    // A few API errors are normal (existence checks before adopting a stream); they do not grow.
    add("nats_varz_jetstream_stats_api_errors", varz, always(3));
    add("nats_varz_jetstream_stats_api_total", varz, always({ start: 200, per: 2 }));
    add("nats_server_jetstream_disabled", jszLabels(config, pod), always(0));
    for (const stream of targets.streams) {
      const labels = streamLabels(config, pod, stream.name);
      const dead = stream.name === targets.deadLetterStream;
      add("nats_stream_total_bytes", labels, always(dead ? 1200 : 1_000_000));
      add("nats_stream_total_messages", labels, always(dead ? 3 : 100));
      add("nats_stream_limit_bytes", labels, always(stream.maxBytes > 0 ? stream.maxBytes : -1));
      add("nats_stream_limit_messages", labels, always(stream.maxMsgs > 0 ? stream.maxMsgs : -1));
      add("nats_stream_last_seq", labels, always(dead ? 3 : { start: 5000, per: 5 }));
    }
    for (const consumer of targets.consumers) {
      const labels = consumerLabels(config, pod, consumer.stream, consumer.name);
      add("nats_consumer_num_pending", labels, always(3));
      add("nats_consumer_num_ack_pending", labels, always(2));
      add("nats_consumer_num_redelivered", labels, always(0));
      add("nats_consumer_ack_floor_stream_seq", labels, always({ start: 4990, per: 5 }));
    }
  });
  return out;
}

export interface SeriesMatch {
  readonly name?: string | RegExp;
  readonly pod?: Pod;
  readonly stream?: string;
  readonly consumer?: string;
  /** true: only leader series (stream or consumer leader, whichever the series has); false: only followers. */
  readonly leader?: boolean;
}

function matches(s: Series, m: SeriesMatch): boolean {
  if (m.name !== undefined && !(typeof m.name === "string" ? s.name === m.name : m.name.test(s.name))) return false;
  if (m.pod !== undefined && s.labels.pod !== m.pod) return false;
  if (m.stream !== undefined && s.labels.stream_name !== m.stream) return false;
  if (m.consumer !== undefined && s.labels.consumer_name !== m.consumer) return false;
  if (m.leader !== undefined) {
    const flag = s.labels.is_consumer_leader ?? s.labels.is_stream_leader;
    if (flag !== String(m.leader)) return false;
  }
  return true;
}

/** Replaces the values of every matching series; fails when nothing matches (a scenario that tests nothing). */
export function set(series: Series[], match: SeriesMatch, values: string): void {
  const hit = series.filter((s) => matches(s, match));
  if (hit.length === 0) throw new Error(`no series matches ${JSON.stringify(match)}`);
  for (const s of hit) s.values = values;
}

/** The series' healthy values until `minute`, then `value`. Only for series built with `always`. */
export function from(minute: number, before: Segment, after: Segment): string {
  return timeline([0, before], [minute, after]);
}

/** A healthy (single-segment) series cut at `minute`: its last sample just before, then a stale marker. */
function endAt(s: Series, minute: number): string {
  if (s.values.includes(" ")) throw new Error(`${s.name}: endAt only cuts an unchanged healthy series`);
  return `${s.values.replace(/x\d+$/, `x${minute * PER_MINUTE - 1}`)} stale`;
}

/** Everything the exporter of `pod` reports ends at `minute` (stale markers), and its scrape fails. */
export function scrapeFails(series: Series[], pod: Pod, minute: number): void {
  for (const s of series.filter((x) => x.labels.pod === pod)) {
    s.values = s.name === "up" ? from(minute, 1, 0) : endAt(s, minute);
  }
}

/**
 * The exporter of `pod` answers, but nats-server does not (as prometheus-nats-exporter 0.20.1 does, seen live):
 * `up` stays 1, varz gauges keep their last value, jsz series end, `nats_healthz_status` ends too (it is only
 * written after a successful healthz request) and `nats_healthz_status_value{value="unreachable"}` appears at 0.
 */
export function serverUnreachable(config: StackConfig, series: Series[], pod: Pod, minute: number): void {
  for (const s of series.filter((x) => x.labels.pod === pod)) {
    if (s.name === "up" || s.name.startsWith("nats_varz_")) continue;
    s.values = endAt(s, minute);
  }
  series.push({
    name: "nats_healthz_status_value",
    labels: { ...varzLabels(config, pod), value: "unreachable" },
    values: timeline([0, null], [minute, 0]),
  });
}

/** promtool's `input_series` entries. */
export function inputSeries(series: readonly Series[]): { series: string; values: string }[] {
  return series.map((s) => ({
    series: `${s.name}{${Object.entries(s.labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`,
    values: s.values,
  }));
}
