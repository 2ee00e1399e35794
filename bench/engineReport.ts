// The figures bench:engine prints per catalog size, and the table they make: plain numbers in, text out, so the
// ratio and the units are tested without a cluster or an engine (bench/engineReport.test.ts).

export interface SizeFigures {
  /** Streams of the synthetic catalog (5 consumers each). */
  readonly streams: number;
  /** Dynamic resources: streams + consumers. */
  readonly resources: number;
  /** The provider's own create of every resource (bench:provider's create phase), in this run. */
  readonly providerCreateSeconds: number;
  /** `npm run deploy` (pulumi up) of the same catalog on a fresh cluster and an empty stack. */
  readonly engineUpSeconds: number;
  /** `npm run preview -- --expect-no-changes` right after. */
  readonly previewSeconds: number;
  readonly stateBytes: number;
  /** Peak resident memory of the first up's process tree (npm, tsx, the CLI, language and provider hosts). */
  readonly upPeakRssBytes: number;
  readonly previewPeakRssBytes: number;
}

/**
 * How many times the provider's own per-resource create time the engine takes per resource: what the engine
 * path (plan, checkpoints, gRPC, provider host) adds over the NATS work. 1 would be an engine that costs nothing.
 */
export const engineRatio = (f: SizeFigures): number => f.engineUpSeconds / f.providerCreateSeconds;

const perResourceMs = (seconds: number, resources: number): string => `${((seconds * 1000) / resources).toFixed(1)} ms`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 0)} MiB`;

/** One row per size: provider and engine per resource, their ratio, the no-op preview, state and peak memory. */
export function ratioTable(rows: readonly SizeFigures[], consumersPerStream: number): string {
  const cells = [
    ["catalog", "resources", "provider create", "engine first up", "ratio", "no-op preview", "state file", "peak RSS up / preview"],
    ...rows.map((f) => [
      `${f.streams}x${consumersPerStream}`,
      String(f.resources),
      `${f.providerCreateSeconds.toFixed(1)} s (${perResourceMs(f.providerCreateSeconds, f.resources)})`,
      `${f.engineUpSeconds.toFixed(1)} s (${perResourceMs(f.engineUpSeconds, f.resources)})`,
      `${engineRatio(f).toFixed(1)}x`,
      `${f.previewSeconds.toFixed(1)} s`,
      mib(f.stateBytes),
      `${mib(f.upPeakRssBytes)} / ${mib(f.previewPeakRssBytes)}`,
    ]),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const line = (c: readonly string[]): string => `| ${c.map((v, i) => v.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}
