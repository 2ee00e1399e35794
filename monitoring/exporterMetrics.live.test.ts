// The committed metric list is what the real exporter emits now: the pinned prometheus-nats-exporter (the
// exporterImage version) with the sidecar's flags, in front of each server of a local 3-node dev cluster with the
// catalog applied and the recording's traffic, scraped live. A difference fails, naming each metric family that
// was added, went missing or changed its type or labels (re-record with `npm run monitoring:metrics`).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../infra/stackConfig";
import { committedMetricList, diffMetricLists, metricFamilies } from "./exporterMetrics";
import { exporterBinary } from "./live/exporterBinary";
import { httpGet } from "./live/processes";
import { exporterVersion, recordingTraffic } from "./live/recording";
import { startMonitoredCluster, type MonitoredCluster } from "./live/stack";

let stack: MonitoredCluster;

beforeAll(async () => {
  stack = await startMonitoredCluster({ exporterBinary: exporterBinary() });
  await recordingTraffic(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("exporter metric list against a live scrape", () => {
  it("the exporter under test is the exporterImage version", () => {
    expect(exporterVersion(exporterBinary())).toBe(parseStackConfig("test", {}).exporterImage.split(":").pop());
  });

  it("three live scrapes have exactly the committed families, types and label names", async () => {
    const live = metricFamilies(await Promise.all(stack.exporters.map((e) => httpGet(e.url))));
    expect(diffMetricLists(committedMetricList(), live)).toEqual({ missing: [], added: [], changed: [] });
    expect(live.length).toBe(committedMetricList().length);
  });
});
