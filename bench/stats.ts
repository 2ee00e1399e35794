// Latency percentiles and the result table of the data-path benchmark: plain numbers in, text out.

export interface PhaseResult {
  readonly phase: string;
  readonly messages: number;
  readonly seconds: number;
  /** Per-message latencies in milliseconds; empty for phases that measure throughput only. */
  readonly latenciesMs: readonly number[];
}

/** The q-quantile (0 < q <= 1) by the nearest-rank method; NaN for no samples. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

const fmt = (n: number, digits: number): string => (Number.isNaN(n) ? "-" : n.toFixed(digits));

/** One row per phase: messages, seconds, msg/s, p50/p90/p99 latency in ms. */
export function resultTable(results: readonly PhaseResult[]): string {
  const header = ["phase", "msgs", "seconds", "msg/s", "p50 ms", "p90 ms", "p99 ms"];
  const rows = results.map((r) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    return [
      r.phase,
      String(r.messages),
      fmt(r.seconds, 2),
      fmt(r.messages / r.seconds, 0),
      fmt(percentile(sorted, 0.5), 2),
      fmt(percentile(sorted, 0.9), 2),
      fmt(percentile(sorted, 0.99), 2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
