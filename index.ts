// fluo-queue: the FLUO messaging layer (ADR-007). Wiring only: config -> cluster -> (streams, monitoring).

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { userGrants } from "./deployment";
import { NatsCluster } from "./infra/natsCluster";
import { secretConfig, stackConfigFromPulumi } from "./infra/pulumiStackConfig";

const config = stackConfigFromPulumi();
const grants = userGrants();

const kubernetes = new k8s.Provider("kubernetes", {
  kubeconfig: secretConfig("kubeconfig"),
  context: config.kubeContext,
});

const cluster = new NatsCluster("nats", { config, grants, provider: kubernetes });

export const namespace = cluster.namespace;
export const clientUrl = cluster.clientUrl;
export const passwords = pulumi.secret(cluster.passwords);
