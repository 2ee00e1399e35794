// The metric list of prometheus-nats-exporter as this project runs it: every metric family a live scrape of the
// sidecar's flags returns, with its type and label names. The committed list (exporter-metrics.tsv beside this
// file) is written from a live scrape by `npm run monitoring:metrics`; the rules and dashboard name check
// (queries.test.ts) reads it, and exporterMetrics.live.test.ts fails when a new live scrape differs from it.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface MetricFamily {
  readonly name: string;
  readonly type: string;
  /** Sorted label names seen on any sample of the family (the exporter's own labels, no target labels). */
  readonly labels: readonly string[];
  readonly help: string;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export const METRICS_FILE = join(__dirname, "exporter-metrics.tsv");
const HEADER = ["metric_name", "type", "labels", "help"] as const;

const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The samples of a Prometheus text exposition (format 0.0.4, what the exporter serves). */
export function parseSamples(exposition: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of exposition.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`exposition: cannot parse sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]] = JSON.parse(`"${l[2]}"`) as string;
    samples.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return samples;
}

/** Metric families of one or more expositions: union of their label names, in name order. */
export function metricFamilies(expositions: readonly string[]): MetricFamily[] {
  const families = new Map<string, { type: string; help: string; labels: Set<string> }>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: "untyped", help: "", labels: new Set() }));
    return f;
  };
  for (const text of expositions) {
    for (const line of text.split("\n")) {
      const meta = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        if (meta[1] === "TYPE") family(meta[2]).type = meta[3];
        else family(meta[2]).help = meta[3];
      }
    }
    for (const s of parseSamples(text)) {
      // Histogram and summary samples carry suffixes; their family is the declared base name.
      const base = families.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, "");
      for (const label of Object.keys(s.labels)) if (label !== "le" && label !== "quantile") family(base).labels.add(label);
      family(base);
    }
  }
  return [...families.entries()]
    .map(([name, f]) => ({ name, type: f.type, help: f.help, labels: [...f.labels].sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The list as a TSV file (header, one family a line), with a comment naming where it came from. */
export function formatMetricList(families: readonly MetricFamily[], provenance: readonly string[]): string {
  const comments = provenance.map((line) => `# ${line}\n`).join("");
  const rows = families.map((f) => [f.name, f.type, f.labels.join(","), f.help.replace(/\s+/g, " ")].join("\t"));
  return `${comments}${HEADER.join("\t")}\n${rows.join("\n")}\n`;
}

export function parseMetricList(text: string): MetricFamily[] {
  const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  if (lines[0] !== HEADER.join("\t")) throw new Error(`metric list: first line must be the header "${HEADER.join("\\t")}"`);
  return lines.slice(1).map((line) => {
    const [name, type, labels, help] = line.split("\t");
    return { name, type, labels: labels ? labels.split(",") : [], help: help ?? "" };
  });
}

/** The committed list (monitoring/exporter-metrics.tsv). */
export function committedMetricList(): MetricFamily[] {
  return parseMetricList(readFileSync(METRICS_FILE, "utf8"));
}

export interface MetricListDiff {
  readonly missing: readonly string[];
  readonly added: readonly string[];
  /** `<name>: <what changed>` for families in both with another type or label set. */
  readonly changed: readonly string[];
}

/** What `live` has that `committed` lacks (added), and the reverse (missing); empty arrays mean they agree. */
export function diffMetricLists(committed: readonly MetricFamily[], live: readonly MetricFamily[]): MetricListDiff {
  const before = new Map(committed.map((f) => [f.name, f]));
  const after = new Map(live.map((f) => [f.name, f]));
  const changed: string[] = [];
  for (const [name, f] of after) {
    const old = before.get(name);
    if (!old) continue;
    if (old.type !== f.type) changed.push(`${name}: type ${old.type} -> ${f.type}`);
    if (old.labels.join(",") !== f.labels.join(",")) changed.push(`${name}: labels ${old.labels.join(",")} -> ${f.labels.join(",")}`);
  }
  return {
    missing: [...before.keys()].filter((n) => !after.has(n)),
    added: [...after.keys()].filter((n) => !before.has(n)),
    changed,
  };
}

export function isEmptyDiff(diff: MetricListDiff): boolean {
  return diff.missing.length === 0 && diff.added.length === 0 && diff.changed.length === 0;
}
