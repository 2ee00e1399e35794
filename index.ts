// fluo-queue: the FLUO messaging layer (ADR-007). Wiring only: config -> cluster -> (streams, monitoring).

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { userGrants } from "./deployment";
import { NatsCluster } from "./infra/natsCluster";
import { secretConfig, stackConfigFromPulumi } from "./infra/pulumiStackConfig";
import { catalogForStack } from "./streams/catalog";
import { catalogGrants } from "./streams/permissions";
import { assertPolicy } from "./streams/policy";
import { StreamCatalog } from "./streams/catalogResources";
import { Monitoring } from "./alerts/monitoring";
import { interimAlertTargets } from "./alerts/targets";

const config = stackConfigFromPulumi();
const catalog = catalogForStack(config);
// A policy violation stops preview/up here, before any resource is registered.
assertPolicy(catalog, config);
const grants = userGrants(catalogGrants(catalog));

const kubernetes = new k8s.Provider("kubernetes", {
  kubeconfig: secretConfig("kubeconfig"),
  context: config.kubeContext,
});

const cluster = new NatsCluster("nats", { config, grants, provider: kubernetes });
// Scraping, alert rules and the Grafana dashboard. TODO(lead): targets from `catalog`.
new Monitoring("monitoring", { config, targets: interimAlertTargets(config), provider: kubernetes }, { dependsOn: [cluster] });

// Streams and consumers are managed over fluo-queue:natsUrl (docs/provider.md "Reaching NATS").
const streams = config.natsUrl
  ? new StreamCatalog("streams", {
      config,
      catalog,
      cluster: cluster.statefulSet,
      provisionerPasswordSet: secretConfig("provisionerPassword") !== undefined,
    })
  : undefined;
if (!streams) {
  pulumi.log.warn(
    "fluo-queue:natsUrl is not set: streams and consumers are NOT managed by this stack. To manage them, make " +
      "NATS reachable (e.g. `kubectl port-forward svc/nats 4222`) and run `pulumi config set fluo-queue:natsUrl " +
      "nats://127.0.0.1:4222` plus `pulumi config set --secret fluo-queue:provisionerPassword <password>` (docs/provider.md).",
  );
}

export const namespace = cluster.namespace;
export const clientUrl = cluster.clientUrl;
export const passwords = pulumi.secret(cluster.passwords);
export const managedStreams = streams ? Object.keys(streams.streams) : [];
