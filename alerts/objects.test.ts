// The monitoring objects and files: operator vs ConfigMap mode, the render output, the scrape config under
// promtool, and a runbook section for every alert.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { alertFiles, monitoringObjects } from "./objects";
import { alertNames, renderAlertRules, runbookAnchor } from "./rules";
import { fixtureTargets, promtool, testConfig } from "./promtool.testkit";
import { targetProblems } from "./targets";

describe("monitoring objects", () => {
  it("renders PodMonitor + PrometheusRule with prometheus-operator, a rules ConfigMap without", () => {
    const op = monitoringObjects(testConfig({ prometheusOperator: true }), fixtureTargets(testConfig()));
    expect(op.mode).toBe("operator");
    const plain = monitoringObjects(testConfig({ prometheusOperator: false }), fixtureTargets(testConfig()));
    expect(plain.mode).toBe("configMap");
    if (plain.mode !== "configMap") return;
    const rules = parse(plain.rulesConfigMap.data!["fluo-queue-nats.rules.yaml"]) as unknown;
    expect(rules).toEqual(JSON.parse(JSON.stringify(renderAlertRules(testConfig(), fixtureTargets(testConfig())))));
  });

  it("the scrape config for Prometheus without the operator passes promtool check config", () => {
    const plain = monitoringObjects(testConfig({ prometheusOperator: false }), fixtureTargets(testConfig()));
    if (plain.mode !== "configMap") throw new Error("expected configMap mode");
    const scrape = parse(plain.rulesConfigMap.data!["fluo-queue-nats.scrape.yaml"]) as { scrape_configs: Record<string, unknown>[] };
    // Debian's promtool is built without Kubernetes service discovery: the SD block is swapped for a static
    // target so that the rest (relabelling, intervals, rule file) is still checked.
    const checkable = scrape.scrape_configs.map(({ kubernetes_sd_configs: sd, ...rest }) => {
      expect(sd).toEqual([{ role: "pod", namespaces: { names: ["fluo-queue"] } }]);
      return { ...rest, static_configs: [{ targets: ["nats-0:7777"] }] };
    });
    const result = promtool(["check", "config", "prometheus.yml"], {
      "prometheus.yml": { scrape_configs: checkable, rule_files: ["rules.yaml"] },
      "rules.yaml": plain.rulesConfigMap.data!["fluo-queue-nats.rules.yaml"],
    });
    expect(result.output).toContain("SUCCESS");
    expect(result.status).toBe(0);
  });

  it("alertFiles writes the rules, the scrape object and the dashboard for render", () => {
    const files = alertFiles(testConfig(), fixtureTargets(testConfig()));
    expect(files.map((f) => f.path)).toEqual(["alerts/fluo-queue-nats.rules.yaml", "alerts/podmonitor.yaml", "dashboards/fluo-queue-nats.json"]);
    expect(JSON.parse(files[2].content).uid).toBe("nats-fluo-queue");
  });

  it("single-server stacks get no cluster alerts that would always fire", () => {
    const config = testConfig({ replicas: 1 });
    const names = alertNames(renderAlertRules(config, fixtureTargets(config)));
    expect(names).toContain("NatsServerDown");
    for (const n of ["NatsClusterDegraded", "NatsRoutesLost", "NatsMetaLeaderMissing", "NatsExporterDown"]) expect(names).not.toContain(n);
    expect(promtool(["check", "rules", "r.yaml"], { "r.yaml": renderAlertRules(config, fixtureTargets(config)) }).status).toBe(0);
  });

  it("a disabled memory store (limit 0) gets no memory usage rules", () => {
    const config = testConfig();
    const names = alertNames(renderAlertRules(config, { ...fixtureTargets(config), maxMemoryStore: 0 }));
    expect(names.filter((n) => n.startsWith("NatsMemoryStore"))).toEqual([]);
    expect(names).toContain("NatsFileStoreUsageHigh");
  });

  it("bad targets are rejected, naming the stream or consumer", () => {
    const config = testConfig();
    const t = fixtureTargets(config);
    expect(
      targetProblems({ ...t, deadLetterStream: "NOPE", consumers: [...t.consumers, { ...t.consumers[0], stream: "GHOST", pendingThreshold: 0 }] }),
    ).toEqual([
      "consumer GHOST/trace-analysis: stream GHOST is not among the streams",
      "consumer GHOST/trace-analysis: pendingThreshold 0 must be a positive integer",
      "deadLetterStream NOPE: not among the streams",
    ]);
    expect(() => renderAlertRules(config, { ...t, clusterSize: 2 })).toThrow(/clusterSize 2/);
  });
});

describe("runbooks (README.md)", () => {
  const doc = readFileSync(join(__dirname, "..", "README.md"), "utf8");
  const names = alertNames(renderAlertRules(testConfig(), fixtureTargets(testConfig())));

  it("every alert has an anchored runbook section", () => {
    for (const name of names) {
      expect(doc, name).toContain(`<a id="${runbookAnchor(name)}"></a>\n### Runbook: ${name}\n`);
    }
  });

  it("documents no alert that does not exist", () => {
    const documented = [...doc.matchAll(/^### Runbook: (\w+)$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...names].sort());
  });
});
