// fluo-queue: the FLUO messaging layer (ADR-007). Wiring only:
// stack config -> model (catalog + policy, grants, alert targets) -> cluster -> streams, monitoring.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { deploymentModel } from "./model";
import { NatsCluster } from "./infra/natsCluster";
import { secretConfig, stackConfigFromPulumi } from "./infra/pulumiStackConfig";
import { managedStreamCatalog } from "./streams/provider/catalogComponent";
import { Monitoring } from "./monitoring/monitoring";
import { ADMIN_USERS, APP_USERS, pickPasswords } from "./infra/users";

// Config, catalog and stream policy errors stop preview/up here, before any resource is registered.
const model = deploymentModel(stackConfigFromPulumi());
const { config, catalog, grants, alertTargets } = model;

const kubernetes = new k8s.Provider("kubernetes", {
  kubeconfig: secretConfig("kubeconfig"),
  context: config.kubeContext,
});

const cluster = new NatsCluster("nats", { config, grants, provider: kubernetes });

new Monitoring("monitoring", { config, targets: alertTargets, provider: kubernetes }, { dependsOn: [cluster] });

// Managed over fluo-queue:natsUrl once the StatefulSet is ready (docs/provider.md "Reaching NATS").
const streams = managedStreamCatalog("streams", {
  config,
  catalog,
  cluster: cluster.statefulSet,
  provisionerPasswordSet: secretConfig("provisionerPassword") !== undefined,
});

export const namespace = cluster.namespace;
export const clientUrl = cluster.clientUrl;
// Application credentials apart from administrative ones, so a service deployment that reads `passwords` can never
// hand the provisioner's (which can read any stream through a consumer of its own) to an application pod.
export const passwords = pulumi.secret(pickPasswords(cluster.passwords, APP_USERS, cluster.nextPasswords));
export const adminPasswords = pulumi.secret(pickPasswords(cluster.passwords, ADMIN_USERS, cluster.nextPasswords));
export const managedStreams = streams ? Object.keys(streams.streams) : [];
