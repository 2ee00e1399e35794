// The metric list machinery: exposition parsing, the list file round trip, the diff that the live run fails on,
// and that the committed list is exactly what the committed recorded scrapes contain.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../infra/stackConfig";
import { toolSpec } from "../tools/manifest";
import { committedMetricList, METRICS_FILE, diffMetricLists, formatMetricList, isEmptyDiff, metricFamilies, parseMetricList, parseSamples } from "./exporterMetrics";
import { scrapeFile } from "./live/recording";

const EXPOSITION = `# HELP nats_varz_remotes remotes
# TYPE nats_varz_remotes gauge
nats_varz_remotes{server_id="NA"} 2
# HELP nats_stream_total_bytes bytes
# TYPE nats_stream_total_bytes gauge
nats_stream_total_bytes{server_id="NA",stream_name="JOBS",is_stream_leader="true"} 1.5e+06
nats_stream_total_bytes{server_id="NA",stream_name="A \\"quoted\\" name",meta_leader="nats-1"} 0
# HELP go_gc_duration_seconds pauses
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} 1e-05
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count 7
`;

describe("exporter metric list", () => {
  it("parses samples with escaped label values and exponent values", () => {
    const samples = parseSamples(EXPOSITION);
    expect(samples).toHaveLength(6);
    expect(samples[1]).toEqual({ name: "nats_stream_total_bytes", labels: { server_id: "NA", stream_name: "JOBS", is_stream_leader: "true" }, value: 1_500_000 });
    expect(samples[2].labels.stream_name).toBe('A "quoted" name');
  });

  it("collects families with type, help and the union of label names; summary parts join their family", () => {
    const families = metricFamilies([EXPOSITION]);
    expect(families.map((f) => [f.name, f.type, f.labels.join(",")])).toEqual([
      ["go_gc_duration_seconds", "summary", ""],
      ["nats_stream_total_bytes", "gauge", "is_stream_leader,meta_leader,server_id,stream_name"],
      ["nats_varz_remotes", "gauge", "server_id"],
    ]);
  });

  it("round-trips through the TSV file and reports what a new scrape adds, lacks or labels differently", () => {
    const families = metricFamilies([EXPOSITION]);
    const file = formatMetricList(families, ["from a test"]);
    expect(file.startsWith("# from a test\nmetric_name\ttype\tlabels\thelp\n")).toBe(true);
    expect(parseMetricList(file)).toEqual(families);
    expect(isEmptyDiff(diffMetricLists(families, parseMetricList(file)))).toBe(true);
    const changed = metricFamilies([EXPOSITION.replaceAll("nats_varz_remotes", "nats_varz_remotez").replace(',meta_leader="nats-1"', "")]);
    expect(diffMetricLists(families, changed)).toEqual({
      missing: ["nats_varz_remotes"],
      added: ["nats_varz_remotez"],
      changed: ["nats_stream_total_bytes: labels is_stream_leader,meta_leader,server_id,stream_name -> is_stream_leader,server_id,stream_name"],
    });
  });

  it("the committed list is exactly the families of the committed recorded scrapes", () => {
    const recorded = metricFamilies(["nats-0", "nats-1", "nats-2"].map((pod) => readFileSync(scrapeFile(pod), "utf8")));
    expect(diffMetricLists(committedMetricList(), recorded)).toEqual({ missing: [], added: [], changed: [] });
    expect(committedMetricList().length).toBeGreaterThan(150);
  });

  it("was recorded from the exporter version the StatefulSet runs, which is the pinned tool's version", () => {
    const tag = parseStackConfig("test", {}).exporterImage.split(":").pop();
    expect(readFileSync(METRICS_FILE, "utf8")).toContain(`# prometheus-nats-exporter ${tag} with the sidecar's flags`);
    expect(toolSpec("prometheus-nats-exporter").version).toBe(`v${tag}`);
  });
});
