// Monitoring of the NATS cluster as a Pulumi component: registers what monitoring/objects.ts renders, through the
// explicit Kubernetes provider, as children of the component. No field is added or changed here, only the
// provider's annotation that the stack's apply wins (infra/fieldOwnership.ts).

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../infra/stackConfig";
import { monitoringObjects } from "./objects";
import type { AlertTargets } from "./targets";
import { declaredFieldsWin } from "../infra/fieldOwnership";

export interface MonitoringArgs {
  readonly config: StackConfig;
  readonly targets: AlertTargets;
  readonly provider: k8s.Provider;
}

export class Monitoring extends pulumi.ComponentResource {
  /** PodMonitor and PrometheusRule (prometheus-operator), or the ConfigMap with rules and scrape config. */
  public readonly scrapeAndRules: pulumi.CustomResource[];
  public readonly dashboard: k8s.core.v1.ConfigMap;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fluo-queue:alerts:Monitoring", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const objects = monitoringObjects(args.config, args.targets);
    this.scrapeAndRules =
      objects.mode === "operator"
        ? [
            new k8s.apiextensions.CustomResource("pod-monitor", declaredFieldsWin({ ...objects.podMonitor }), child),
            new k8s.apiextensions.CustomResource("prometheus-rule", declaredFieldsWin({ ...objects.prometheusRule }), child),
          ]
        : [new k8s.core.v1.ConfigMap("prometheus-files", declaredFieldsWin(objects.rulesConfigMap), child)];
    this.dashboard = new k8s.core.v1.ConfigMap("dashboard", declaredFieldsWin(objects.dashboard), child);
    this.registerOutputs({});
  }
}
