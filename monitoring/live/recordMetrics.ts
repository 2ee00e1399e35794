// npm run monitoring:metrics [-- --exporter <prometheus-nats-exporter binary>]
// Runs the real exporter with the StatefulSet sidecar's flags in front of each server of a local 3-node cluster
// (dev stack, catalog applied, some traffic so consumers have deliveries and acks) and writes
//   monitoring/exporter-metrics.tsv        every metric family with its type and labels (the committed list)
//   monitoring/testdata/scrape-<pod>.prom  the raw scrape of each exporter (what the CI Prometheus replays)
// Without --exporter it runs the pinned build (tools/versions.json, `npm run tools`), the exporterImage version.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { natsServerBinary } from "../../local/localCluster";
import { natsServerVersion } from "../../tools/resolve";
import { formatMetricList, metricFamilies, METRICS_FILE } from "../exporterMetrics";
import { exporterVersion, parseExporterFlag, recordingTraffic, RECORDING_DIR, scrapeFile } from "./recording";
import { exporterBinary } from "./exporterBinary";
import { httpGet } from "./processes";
import { localExporterArgs, startMonitoredCluster } from "./stack";

async function main(argv: readonly string[]): Promise<number> {
  const exporter = parseExporterFlag(argv, "monitoring:metrics", exporterBinary);
  if (typeof exporter === "number") return exporter;
  const version = exporterVersion(exporter);
  const server = natsServerVersion(natsServerBinary());
  console.log(`prometheus-nats-exporter ${version}, nats-server ${server}`);
  const stack = await startMonitoredCluster({ exporterBinary: exporter, log: console.log });
  try {
    await recordingTraffic(stack);
    const scrapes = await Promise.all(stack.exporters.map(async (e) => ({ pod: e.pod, text: await httpGet(e.url) })));
    const families = metricFamilies(scrapes.map((s) => s.text));
    const flags = localExporterArgs(7777, "http://localhost:8222").join(" ");
    writeFileSync(
      METRICS_FILE,
      formatMetricList(families, [
        "Written by `npm run monitoring:metrics` (monitoring/live/recordMetrics.ts) from live scrapes: do not edit.",
        `prometheus-nats-exporter ${version} with the sidecar's flags (${flags}),`,
        `3 servers of nats-server ${server}, dev stack catalog applied, recordingTraffic() of monitoring/live/recording.ts.`,
      ]),
    );
    mkdirSync(RECORDING_DIR, { recursive: true });
    for (const s of scrapes) writeFileSync(scrapeFile(s.pod), s.text);
    console.log(`wrote ${METRICS_FILE} (${families.length} metric families) and ${scrapes.map((s) => join("monitoring/testdata", `scrape-${s.pod}.prom`)).join(", ")}`);
    return 0;
  } finally {
    await stack.stop();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`monitoring:metrics: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
