// The real promtool, the exporter's metric names (the committed list written from a live scrape,
// monitoring/exporter-metrics.tsv) and a fixture catalog: rules are proven against the tool and the metric names
// Prometheus really has.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { parseStackConfig, type StackConfig, type StackConfigInput } from "../infra/stackConfig";
import { committedMetricList } from "./exporterMetrics";
import { DEFAULT_SERVER_THRESHOLDS, type AlertTargets } from "./targets";
import { PROMTOOL as PROMTOOL_BINARY, requireBinary } from "../tools/resolve";

export const PROMTOOL = requireBinary(PROMTOOL_BINARY).path;

export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

/** Runs promtool with files written to a fresh temp dir; `files` maps file name to YAML-able content. */
export function promtool(args: readonly string[], files: Readonly<Record<string, unknown>>): PromtoolResult {
  const dir = mkdtempSync(join(tmpdir(), "fluo-alerts-"));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : stringify(content, { lineWidth: 0 }));
  }
  const run = spawnSync(PROMTOOL, [...args], { cwd: dir, encoding: "utf8" });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Metric names of prometheus-nats-exporter with the StatefulSet's flags (the committed list). */
export function exporterMetricNames(): Set<string> {
  return new Set(committedMetricList().map((f) => f.name));
}

export function testConfig(overrides: StackConfigInput = {}): StackConfig {
  return parseStackConfig("test", {
    maxMemoryStore: "256MiB",
    maxFileStore: "2GiB",
    storageSize: "3Gi",
    memoryRequest: "512Mi",
    memoryLimit: "1Gi",
    runbookBaseUrl: "https://git.example/fluo-queue/README.md",
    ...overrides,
  });
}

/** A catalog shaped like FLUO's: job queue, signals, audit events and a dead-letter stream. */
export function fixtureTargets(config: StackConfig): AlertTargets {
  return {
    streams: [
      { name: "JOBS", maxBytes: 1_000_000_000, maxMsgs: -1 },
      { name: "SIGNALS", maxBytes: -1, maxMsgs: 100_000 },
      { name: "EVENTS", maxBytes: 5_000_000_000, maxMsgs: -1, nearLimitRatio: 0.95 },
      { name: "DEAD_LETTERS", maxBytes: 100_000_000, maxMsgs: 10_000 },
    ],
    consumers: [
      { stream: "JOBS", name: "trace-analysis", pendingThreshold: 1000, ackPendingThreshold: 800, maxDeliver: 5 },
      { stream: "JOBS", name: "data-export", pendingThreshold: 200, ackPendingThreshold: 50, maxDeliver: 3, redeliveredThreshold: 5 },
      { stream: "SIGNALS", name: "signals-processor", pendingThreshold: 5000, ackPendingThreshold: 1000, maxDeliver: -1 },
    ],
    deadLetterStream: "DEAD_LETTERS",
    clusterSize: config.replicas,
    maxFileStore: config.bytes.maxFileStore,
    maxMemoryStore: config.bytes.maxMemoryStore,
    server: DEFAULT_SERVER_THRESHOLDS,
  };
}

const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);

/**
 * The metric names a PromQL expression reads: identifiers that are not functions, keywords, label names in
 * matchers or grouping clauses, or parts of numbers and durations.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined) continue; // a function or aggregation call
    if (PROMQL_KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}

/** Each expression as a throwaway recording rule: `promtool check rules` then parses every one. */
export function asRecordingRules(exprs: readonly string[]): unknown {
  return { groups: [{ name: "queries", rules: exprs.map((expr, i) => ({ record: `query:${i}`, expr })) }] };
}
