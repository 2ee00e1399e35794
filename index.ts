// fluo-queue: the FLUO messaging layer (ADR-007). Wiring only:
// stack config -> model (catalog + policy, grants, alert targets) -> cluster -> streams, monitoring.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { deploymentModel } from "./model";
import { NatsCluster } from "./infra/natsCluster";
import { secretConfig, stackConfigFromPulumi } from "./infra/pulumiStackConfig";
import { managedStreamCatalog } from "./streams/provider/catalogComponent";
import { Monitoring } from "./monitoring/monitoring";
import { ADMIN_USERS, APP_USERS, FRONTEND_USERS, pickCredentials, type UserName } from "./infra/users";
import { usesNkeys, usesPasswords } from "./infra/stackConfig";

// Config, catalog and stream policy errors stop preview/up here, before any resource is registered.
const model = deploymentModel(stackConfigFromPulumi());
const { config, catalog, grants, alertTargets } = model;

// With renderYamlToDirectory (GitOps mode) the provider writes manifests instead of applying them; the key is a
// provider input, so switching it replaces the provider and every object it owns (README "GitOps mode").
// enableSecretMutable: a nats.conf change (a password, a grant) updates the `nats-config` Secret in place, which the
// config reloader then applies; without it the provider replaces the Secret (delete, then create: the real API
// server showed a new uid), and the pods' mounted file briefly has no source. Only kubeconfig, context and
// renderYamlToDirectory replace the provider; this flag does not.
const kubernetes = new k8s.Provider("kubernetes", {
  kubeconfig: secretConfig("kubeconfig"),
  context: config.kubeContext,
  renderYamlToDirectory: config.renderYamlToDirectory,
  enableSecretMutable: true,
});

const cluster = new NatsCluster("nats", { config, grants, provider: kubernetes, leafDenied: model.leafDenied });

new Monitoring("monitoring", { config, targets: alertTargets, provider: kubernetes }, { dependsOn: [cluster] });

// Managed over fluo-queue:natsUrl once the StatefulSet is ready (docs/provider.md "Reaching NATS").
const streams = managedStreamCatalog("streams", {
  config,
  catalog,
  cluster: cluster.statefulSet,
});

export const namespace = cluster.namespace;
export const clientUrl = cluster.clientUrl;
// Application credentials apart from administrative ones, so a service deployment that reads `passwords` can never
// hand the provisioner's (which can read any stream through a consumer of its own) to an application pod.
// Only the kinds of credential the authentication mode uses: `passwords` without NKEYs, `seeds` with them, both
// with password+nkey (undefined outputs are not exported).
const passwordsOf = (users: readonly UserName[]) => pulumi.secret(pickCredentials(cluster.passwords, users, cluster.nextPasswords));
const seedsOf = (users: readonly UserName[]) => pulumi.secret(pickCredentials(cluster.seeds, users, cluster.nextSeeds));
export const passwords = usesPasswords(config.authentication) ? passwordsOf(APP_USERS) : undefined;
export const adminPasswords = usesPasswords(config.authentication) ? passwordsOf(ADMIN_USERS) : undefined;
export const seeds = usesNkeys(config.authentication) ? seedsOf(APP_USERS) : undefined;
export const adminSeeds = usesNkeys(config.authentication) ? seedsOf(ADMIN_USERS) : undefined;
// The browser's credential apart from both: it goes into a web page (docs/websocket.md), where anyone can read it,
// so it must never be one a service or an administrator holds. nats.ws takes it as `{ user, pass }` or, with
// NKEYs, `authenticator: nkeyAuthenticator(seed)`.
export const frontendPasswords = usesPasswords(config.authentication) ? passwordsOf(FRONTEND_USERS) : undefined;
export const frontendSeeds = usesNkeys(config.authentication) ? seedsOf(FRONTEND_USERS) : undefined;
export const managedStreams = streams ? Object.keys(streams.streams) : [];
