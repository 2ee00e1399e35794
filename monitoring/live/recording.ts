// What the recorded scrapes (monitoring/testdata) and the metric list were taken from, shared by the script that
// writes them and the run that compares a new live scrape against them: the same traffic, so the same metric
// families appear (consumer activity gauges exist only after a delivery, for instance).

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { publish, workOff } from "./traffic";
import type { MonitoredCluster } from "./stack";

export const RECORDING_DIR = join(__dirname, "..", "testdata");
export const scrapeFile = (pod: string): string => join(RECORDING_DIR, `scrape-${pod}.prom`);

/** Jobs left waiting on JOBS/trace-analysis: above the default lag threshold (1000), so NatsConsumerLag has data. */
export const RECORDED_TRACE_BACKLOG = 1050;

/** Deliveries and acks on several consumers, and a trace-analysis backlog that nobody works off. */
export async function recordingTraffic(stack: MonitoredCluster): Promise<void> {
  const bff = await stack.connectAs("fluo-bff");
  const workers = await stack.connectAs("fluo-workers");
  const backend = await stack.connectAs("fluo-backend");
  await publish(bff, "jobs.trace_analysis", RECORDED_TRACE_BACKLOG + 50);
  await publish(bff, "jobs.rule_validation", 20);
  await publish(bff, "jobs.data_export", 5);
  await publish(bff, "events.user.login", 10);
  await publish(workers, "signals.created", 5);
  await workOff(workers, "JOBS", "trace-analysis", 50);
  await workOff(workers, "JOBS", "rule-validation", 20);
  await workOff(backend, "SIGNALS", "backend-status", 5);
  await workOff(bff, "SIGNALS", "bff-updates", 5);
  await workOff(backend, "EVENTS", "audit-replay", 10);
}

/** `[--exporter <path>]` of `npm run monitoring:metrics`: the path, the pinned build without it, or 1 (usage printed). */
export function parseExporterFlag(argv: readonly string[], script: string, fallback: () => string): string | number {
  const at = argv.indexOf("--exporter");
  const unknown = argv.filter((a, i) => a !== "--exporter" && argv[i - 1] !== "--exporter");
  if (unknown.length > 0 || (at >= 0 && !argv[at + 1])) {
    console.error(`usage: npm run ${script} [-- --exporter <prometheus-nats-exporter binary>]${unknown.length > 0 ? ` (unknown argument ${unknown[0]})` : ""}`);
    return 1;
  }
  if (at < 0) {
    try {
      return fallback();
    } catch (err) {
      console.error(`${script}: ${(err as Error).message}`);
      return 1;
    }
  }
  const path = argv[at + 1];
  if (!existsSync(path)) {
    console.error(`${script}: --exporter ${path}: no such file`);
    return 1;
  }
  return path;
}

/** The version the exporter binary reports (`prometheus-nats-exporter version v0.20.1`), without the v. */
export function exporterVersion(path: string): string {
  const out = spawnSync(path, ["-version"], { encoding: "utf8" });
  const m = /version\s+v?(\S+)/.exec(`${out.stdout}${out.stderr}`);
  if (out.status !== 0 || !m) throw new Error(`${path} -version printed no version (exit ${out.status})`);
  return m[1];
}
