// The Monitoring component under the Pulumi SDK's mocks: which objects it registers, where, with which labels,
// through the explicit provider and parented to the component.

import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT } from "../infra/stackConfig";
import { fixtureTargets, testConfig } from "./promtool.testkit";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly provider?: string;
}

const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown>, provider: args.provider });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    PROJECT,
    "test",
    false,
  );
});

const promiseOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

const CHILDREN = ["pod-monitor", "prometheus-rule", "prometheus-files", "dashboard"];

async function register(name: string, overrides: Parameters<typeof testConfig>[0]): Promise<Registered[]> {
  // Imported after setMocks, as the Pulumi program would be.
  const k8s = await import("@pulumi/kubernetes");
  const { Monitoring } = await import("./monitoring");
  const config = testConfig(overrides);
  const provider = new k8s.Provider(`${name}-k8s`, {});
  const before = registered.length;
  const monitoring = new Monitoring(name, { config, targets: fixtureTargets(config), provider });
  const urns = await Promise.all([...monitoring.scrapeAndRules, monitoring.dashboard].map((r) => promiseOf(r.urn)));
  // Children of the component: their URNs carry its type as parent.
  for (const urn of urns) expect(urn).toContain("fluo-queue:alerts:Monitoring$kubernetes:");
  const children = registered.slice(before).filter((r) => CHILDREN.includes(r.name));
  // Every child goes through the explicit provider, never the (disabled) default one.
  for (const c of children) expect(c.provider, c.name).toContain(`::${name}-k8s::`);
  return children;
}

const metadata = (r: Registered) => r.inputs.metadata as { name: string; namespace: string; labels: Record<string, string> };

describe("Monitoring component", () => {
  it("with prometheus-operator: PodMonitor and PrometheusRule in the NATS namespace, dashboard in Grafana's", async () => {
    const objects = await register("mon-operator", { prometheusOperator: true, podMonitorLabels: ["release=prom", "team=fluo"], grafanaNamespace: "grafana" });
    expect(objects.map((o) => o.type).sort()).toEqual([
      "kubernetes:core/v1:ConfigMap",
      "kubernetes:monitoring.coreos.com/v1:PodMonitor",
      "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    ]);
    const podMonitor = objects.find((o) => o.name === "pod-monitor")!;
    expect(metadata(podMonitor).namespace).toBe("fluo-queue");
    expect(metadata(podMonitor).labels).toMatchObject({ release: "prom", team: "fluo" });
    const endpoint = (podMonitor.inputs.spec as { podMetricsEndpoints: { port: string }[] }).podMetricsEndpoints[0];
    expect(endpoint.port).toBe("metrics");

    const rule = objects.find((o) => o.name === "prometheus-rule")!;
    expect(metadata(rule).namespace).toBe("fluo-queue");
    expect(metadata(rule).labels).toMatchObject({ release: "prom", team: "fluo" });
    const groups = (rule.inputs.spec as { groups: { name: string; rules: unknown[] }[] }).groups;
    expect(groups.map((g) => g.name)).toContain("fluo-queue-nats.consumers");

    const dashboard = objects.find((o) => o.name === "dashboard")!;
    expect(metadata(dashboard).namespace).toBe("grafana");
    expect(metadata(dashboard).labels.grafana_dashboard).toBe("1");
    const json = JSON.parse(Object.values(dashboard.inputs.data as Record<string, string>)[0]) as { uid: string; panels: unknown[] };
    expect(json.uid).toBe("nats-fluo-queue");
    expect(json.panels.length).toBeGreaterThan(20);
  });

  it("without prometheus-operator: one ConfigMap with rules and scrape config in the monitoring namespace", async () => {
    const objects = await register("mon-plain", { prometheusOperator: false, monitoringNamespace: "prometheus" });
    expect(objects.map((o) => o.type)).toEqual(["kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMap"]);
    const files = objects.find((o) => o.name === "prometheus-files")!;
    expect(metadata(files).namespace).toBe("prometheus");
    expect(metadata(files).labels).toMatchObject({ release: "kube-prometheus-stack" });
    const data = files.inputs.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(["fluo-queue-nats.rules.yaml", "fluo-queue-nats.scrape.yaml"]);
    expect(data["fluo-queue-nats.rules.yaml"]).toContain("alert: NatsConsumerLag");
    expect(data["fluo-queue-nats.scrape.yaml"]).toContain("job_name: fluo-queue-nats");
    const dashboard = objects.find((o) => o.name === "dashboard")!;
    expect(metadata(dashboard).namespace).toBe("monitoring");
    expect(metadata(dashboard).labels.grafana_dashboard).toBe("1");
  });
});
