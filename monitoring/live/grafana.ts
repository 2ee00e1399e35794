// The dashboard's queries as Grafana sends them to Prometheus: template variables resolved from the variables'
// own label_values() queries and substituted the way Grafana's Prometheus data source does, then every panel
// target run as a range query. What a run finds is one line per panel target.

import type { Dashboard } from "@grafana/schema";
import type { PrometheusServer } from "./prometheus";

/** A selection per multi-value variable: "All" (Grafana sends the allValue) or specific values. */
export type Selection = Readonly<Record<string, "All" | readonly string[]>>;

/**
 * Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval), where the scrape interval
 * is the data source's setting (it must match Prometheus'), and $__interval is the range over the panel's points.
 */
export function rateIntervalSeconds(intervalSeconds: number, scrapeIntervalSeconds: number): number {
  return Math.max(intervalSeconds + scrapeIntervalSeconds, 4 * scrapeIntervalSeconds);
}

/** Grafana escapes each value of a multi-value variable for a regex matcher and joins them as (a|b). */
export function formatMultiValue(values: readonly string[]): string {
  const escaped = values.map((v) => v.replace(/[\\^$*+?.()|[\]{}]/g, "\\$&"));
  return escaped.length === 1 ? escaped[0] : `(${escaped.join("|")})`;
}

export interface ResolvedVariables {
  /** name -> the text that replaces `$name` in queries. */
  readonly values: Readonly<Record<string, string>>;
  /** name -> the values its label_values() query returned (what Grafana offers in the drop-down). */
  readonly options: Readonly<Record<string, readonly string[]>>;
}

function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  // Longest names first, so $__rate_interval is not read as $__rate followed by text.
  return Object.keys(values)
    .sort((a, b) => b.length - a.length)
    .reduce((out, name) => out.replaceAll(`$${name}`, values[name]).replaceAll(`\${${name}}`, values[name]), expr);
}

/**
 * Resolves the query variables in order (each may use the ones before it, as $consumer uses $stream), as Grafana
 * does on load: options from label_values(), the current value for single-value variables, the selection (or
 * All) for multi-value ones. Fails when a current value or a selected value is not among the options.
 */
export async function resolveVariables(
  dashboard: Dashboard,
  prometheus: PrometheusServer,
  selection: Selection,
  builtins: Readonly<Record<string, string>>,
): Promise<ResolvedVariables> {
  const values: Record<string, string> = { ...builtins };
  const options: Record<string, readonly string[]> = {};
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query" || typeof v.query !== "string") continue;
    const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(v.query);
    if (!m) throw new Error(`variable ${v.name}: query ${v.query} is not label_values(selector, label)`);
    const found = await prometheus.labelValues(m[2], substitute(m[1], values));
    options[v.name] = found;
    if (v.multi) {
      const chosen = selection[v.name] ?? "All";
      if (chosen === "All") {
        values[v.name] = typeof v.allValue === "string" ? v.allValue : formatMultiValue(found);
      } else {
        const unknown = chosen.filter((c) => !found.includes(c));
        if (unknown.length > 0) throw new Error(`variable ${v.name}: ${unknown.join(", ")} not among its options ${found.join(", ")}`);
        values[v.name] = formatMultiValue(chosen);
      }
    } else {
      const current = String(v.current?.value ?? found[0] ?? "");
      if (!found.includes(current)) throw new Error(`variable ${v.name}: current value ${current} not among its options ${found.join(", ")}`);
      values[v.name] = current;
    }
  }
  return { values, options };
}

export interface PanelResult {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly series: number;
  readonly error?: string;
}

/** Every panel target with the variables substituted, run over [start, end]; instant targets at `end`. */
export async function runPanels(
  dashboard: Dashboard,
  prometheus: PrometheusServer,
  values: Readonly<Record<string, string>>,
  window: { readonly start: number; readonly end: number; readonly step: number },
): Promise<PanelResult[]> {
  const results: PanelResult[] = [];
  for (const p of dashboard.panels ?? []) {
    if (!("targets" in p) || !p.targets) continue;
    for (const t of p.targets) {
      const expr = substitute(String(t.expr), values);
      const instant = (t as { instant?: boolean }).instant === true;
      const unresolved = /\$\{?[A-Za-z_]\w*/.exec(expr);
      if (unresolved) {
        results.push({ panel: p.title ?? "", refId: String(t.refId ?? ""), expr, series: 0, error: `unresolved variable ${unresolved[0]}` });
        continue;
      }
      try {
        const series = instant ? await prometheus.query(expr) : await prometheus.rangeQuery(expr, window.start, window.end, window.step);
        results.push({ panel: p.title ?? "", refId: String(t.refId ?? ""), expr, series: series.length });
      } catch (err) {
        results.push({ panel: p.title ?? "", refId: String(t.refId ?? ""), expr, series: 0, error: String(err) });
      }
    }
  }
  return results;
}
