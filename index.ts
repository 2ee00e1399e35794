// fluo-queue: the FLUO messaging layer (ADR-007). Wiring only: config -> cluster -> (streams, monitoring).

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { userGrants } from "./deployment";
import { NatsCluster } from "./infra/natsCluster";
import { secretConfig, stackConfigFromPulumi } from "./infra/pulumiStackConfig";
import { catalogForStack } from "./streams/catalog";
import { catalogGrants } from "./streams/permissions";
import { assertPolicy } from "./streams/policy";

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

export const namespace = cluster.namespace;
export const clientUrl = cluster.clientUrl;
export const passwords = pulumi.secret(cluster.passwords);
