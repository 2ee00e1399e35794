// The two-region alert (docs/regions.md) under the real promtool: NatsRegionLinkDown fires when no answering
// server of a region holds a leafnode connection, in the words of the stack's role, and stays silent while any
// server keeps the link or when the servers themselves are gone (NatsServerDown's case, not the link's).

import { describe, expect, it } from "vitest";
import { alertNames, renderAlertRules } from "./rules";
import { from, healthyCluster, inputSeries, INTERVAL, PODS, serverUnreachable, set, timeline, varzLabels, type Series } from "./clusterSeries.testkit";
import { fixtureTargets, promtool, testConfig } from "./promtool.testkit";
import { parseStackConfig, type StackConfig } from "../infra/stackConfig";

// leafPassword is a secret the stack file holds (not a typed key): it is read from the raw config.
const regionConfig = (keys: Record<string, unknown>): StackConfig =>
  parseStackConfig("test", { maxMemoryStore: "256MiB", maxFileStore: "2GiB", storageSize: "3Gi", memoryRequest: "512Mi", memoryLimit: "1Gi", runbookBaseUrl: "https://git.example/fluo-queue/README.md", leafPassword: "pw", ...keys });
const standby = regionConfig({ region: "us", peerRegion: "eu", regionRole: "standby", clusterName: "fluo-cluster-us", peerLeafUrls: ["nats-leaf://eu.example:7422"] });
const primary = regionConfig({ region: "eu", peerRegion: "us" });
const RUNBOOK = "https://git.example/fluo-queue/README.md#runbook-natsregionlinkdown";

interface Expected {
  readonly summary: string;
  readonly description: string;
}

/** A healthy region (one leafnode connection per server), changed by `build`, evaluated at minute 15. */
function linkTest(config: StackConfig, build: (s: Series[]) => void, fires: Expected | undefined): ReturnType<typeof promtool> {
  const rules = renderAlertRules(config, fixtureTargets(config));
  const series = healthyCluster(config, fixtureTargets(config));
  for (const pod of PODS) series.push({ name: "nats_varz_leafnodes", labels: varzLabels(config, pod), values: timeline([0, 1]) });
  build(series);
  const test = {
    rule_files: ["rules.yaml"],
    evaluation_interval: INTERVAL,
    group_eval_order: rules.groups.map((g) => g.name),
    tests: [
      {
        interval: INTERVAL,
        input_series: inputSeries(series),
        alert_rule_test: [
          {
            eval_time: "15m",
            alertname: "NatsRegionLinkDown",
            exp_alerts: fires
              ? [{ exp_labels: { namespace: config.namespace, severity: "critical" }, exp_annotations: { ...fires, runbook_url: RUNBOOK } }]
              : [],
          },
        ],
      },
    ],
  };
  return promtool(["test", "rules", "test.yaml"], { "rules.yaml": rules, "test.yaml": test });
}

const linkLost = (s: Series[]): void => set(s, { name: "nats_varz_leafnodes" }, from(5, 1, 0));

describe("NatsRegionLinkDown", () => {
  it("exists only in region stacks: a single-region stack's rules are unchanged", () => {
    expect(alertNames(renderAlertRules(testConfig(), fixtureTargets(testConfig())))).not.toContain("NatsRegionLinkDown");
    expect(alertNames(renderAlertRules(standby, fixtureTargets(standby)))).toContain("NatsRegionLinkDown");
    const check = promtool(["check", "rules", "rules.yaml"], { "rules.yaml": renderAlertRules(standby, fixtureTargets(standby)) });
    expect(check.output).toContain("SUCCESS");
  });

  it("a standby that lost every leafnode connection for 5 minutes: fires, naming what stopped", () => {
    const result = linkTest(standby, linkLost, {
      summary: "Region us has no leafnode link to region eu.",
      description:
        "No answering NATS server of region us (fluo-queue) has held a leafnode connection with region eu for 5 minutes: " +
        "its mirrors of eu's streams stopped: a failover now loses everything published in eu since.",
    });
    expect(result.output).toContain("SUCCESS");
  });

  it("a primary whose standby no longer connects: fires in the primary's words", () => {
    const result = linkTest(primary, linkLost, {
      summary: "Region eu has no leafnode link to region us.",
      description:
        "No answering NATS server of region eu (fluo-queue) has held a leafnode connection with region us for 5 minutes: " +
        "the standby region us no longer receives this region's streams: its copies age, and a failover would lose everything published since.",
    });
    expect(result.output).toContain("SUCCESS");
  });

  it("stays silent while one server keeps the link (interest crosses the routes), and when the servers are down", () => {
    expect(linkTest(standby, (s) => set(s, { name: "nats_varz_leafnodes", pod: "nats-0" }, from(5, 1, 0)), undefined).output).toContain("SUCCESS");
    const allDown = (s: Series[]): void => {
      linkLost(s);
      for (const pod of PODS) serverUnreachable(standby, s, pod, 4);
    };
    expect(linkTest(standby, allDown, undefined).output).toContain("SUCCESS");
  });

  it("the check can fail: a healthy link wrongly expected to fire", () => {
    const result = linkTest(standby, () => {}, { summary: "x", description: "y" });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("NatsRegionLinkDown");
  });
});
