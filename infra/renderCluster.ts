// nats.conf and the Kubernetes objects of one cluster from config, grants and password hashes. One function
// for both topologies (Kubernetes pods, local processes), so local mode runs the nats.conf that deploys.

import { APP_ACCOUNT, SYSTEM_ACCOUNT } from "./users";
import { renderNatsConf, restartChecksum, type NatsConfInput, type NatsTopology } from "./natsConfig";
import { kubernetesTopology, LAME_DUCK_GRACE_PERIOD } from "./clusterLayout";
import { renderKubernetesObjects, type KubernetesObjects } from "./kubernetesObjects";
import type { StackConfig } from "./stackConfig";
import type { PasswordHashes } from "./passwordHash";
import type { UserGrant } from "./userGrants";

/** The nats.conf input for one topology (Kubernetes pod or local process). */
export function natsConfInput(
  config: StackConfig,
  topology: NatsTopology,
  grants: readonly UserGrant[],
  hashes: PasswordHashes,
): NatsConfInput {
  const usersOf = (account: string) =>
    grants
      .filter((g) => g.spec.account === account)
      .map((g) => ({ user: g.spec.name, passwordHash: hashes[g.spec.name], permissions: g.permissions }));
  return {
    topology,
    clusterName: config.clusterName,
    maxMemoryStore: config.bytes.maxMemoryStore,
    maxFileStore: config.bytes.maxFileStore,
    lameDuckDuration: config.lameDuckDuration,
    lameDuckGracePeriod: LAME_DUCK_GRACE_PERIOD,
    accounts: [
      { name: APP_ACCOUNT, jetstream: true, users: usersOf(APP_ACCOUNT) },
      { name: SYSTEM_ACCOUNT, jetstream: false, users: usersOf(SYSTEM_ACCOUNT) },
    ],
    systemAccount: SYSTEM_ACCOUNT,
  };
}

export interface RenderedCluster {
  readonly natsConf: string;
  readonly restartChecksum: string;
  readonly objects: KubernetesObjects;
}

/** nats.conf and the Kubernetes objects of the in-cluster deployment. */
export function renderCluster(config: StackConfig, grants: readonly UserGrant[], hashes: PasswordHashes): RenderedCluster {
  const input = natsConfInput(config, kubernetesTopology(config), grants, hashes);
  const natsConf = renderNatsConf(input);
  const checksum = restartChecksum(input);
  return { natsConf, restartChecksum: checksum, objects: renderKubernetesObjects({ config, natsConf, restartChecksum: checksum }) };
}
