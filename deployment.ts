// The pure core: validated stack config in, every artifact out. The Pulumi program (index.ts), the CLI
// (render, local, drift) and the tests all call these functions, so what `npm run render` shows is what
// `pulumi up` applies.

import { APP_ACCOUNT, SYSTEM_ACCOUNT, userSpecs, type UserName, type UserSpec } from "./infra/users";
import { mergePermissions, type Permissions } from "./infra/permissions";
import { renderNatsConf, restartChecksum, type NatsConfInput, type NatsTopology } from "./infra/natsConfig";
import { kubernetesTopology } from "./infra/clusterLayout";
import { renderKubernetesObjects, type KubernetesObjects } from "./infra/kubernetesObjects";
import type { StackConfig } from "./infra/stackConfig";

export interface UserGrant {
  readonly spec: UserSpec;
  readonly permissions: Permissions;
}

/** Permissions contributed by another part of the model (the stream catalog), keyed by user name. */
export type ExtraGrants = ReadonlyMap<string, Permissions>;

/** Each user with its base grants plus whatever the stream catalog derives for it. */
export function userGrants(extra: ExtraGrants = new Map()): UserGrant[] {
  const specs = userSpecs();
  for (const user of extra.keys()) {
    if (!specs.some((s) => s.name === user)) {
      throw new Error(`permissions were derived for "${user}", which is not a NATS user (${specs.map((s) => s.name).join(", ")})`);
    }
  }
  return specs.map((spec) => {
    const more = extra.get(spec.name);
    return { spec, permissions: more ? mergePermissions(spec.base, more) : spec.base };
  });
}

export type PasswordHashes = Readonly<Record<UserName, string>>;

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
    lameDuckGracePeriod: "10s",
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
