// nats.conf and the Kubernetes objects of one cluster from config, grants and password hashes. One function
// for both topologies (Kubernetes pods, local processes), so local mode runs the nats.conf that deploys.

import { APP_ACCOUNT, SYSTEM_ACCOUNT, type UserName } from "./users";
import { renderNatsConf, restartChecksum, type NatsConfInput, type NatsLogin, type NatsTopology, type RouteAuth, type TlsFiles } from "./natsConfig";
import { kubernetesTopology, LAME_DUCK_GRACE_PERIOD, TLS_FILES } from "./clusterLayout";
import { renderKubernetesObjects, type KubernetesObjects } from "./kubernetesObjects";
import type { StackConfig } from "./stackConfig";
import type { PasswordHashes } from "./passwordHash";
import type { UserGrant } from "./userGrants";

/** TLS files and route credentials of one deployment (both optional: dev runs plaintext). */
export interface ConnectionSecurity {
  readonly tls?: TlsFiles;
  readonly routeAuth?: RouteAuth;
}

/**
 * More logins for an identity, beside its user name and password: a second password login under another name
 * (`<user>-next`) or NKEYs. Used for credential rotation with an overlap and for NKEY authentication.
 */
export type ExtraLogins = Readonly<Partial<Record<UserName, readonly NatsLogin[]>>>;

/** The user every server presents on its routes (cluster authorization). */
export const ROUTE_USER = "fluo-route";
/** Stand-in for the route password where it is not known (objects other than the Secret, redacted renders). */
export const REDACTED_ROUTE_PASSWORD = "<redacted: route password>";

/** A hash of NO_PASSWORD means the identity has no password login (NKEYs only: nats.conf holds no secret of it). */
export const NO_PASSWORD = "";

function passwordLogin(user: UserName, hash: string): NatsLogin[] {
  return hash === NO_PASSWORD ? [] : [{ user, passwordHash: hash }];
}

/** The nats.conf input for one topology (Kubernetes pod or local process). */
export function natsConfInput(
  config: StackConfig,
  topology: NatsTopology,
  grants: readonly UserGrant[],
  hashes: PasswordHashes,
  security: ConnectionSecurity = {},
  extraLogins: ExtraLogins = {},
): NatsConfInput {
  // Every login of an identity gets the same permissions (and so the same inbox prefix): a second login is a
  // second credential of the same service, valid side by side with the first during a rotation.
  const usersOf = (account: string) =>
    grants
      .filter((g) => g.spec.account === account)
      .flatMap((g) =>
        [...passwordLogin(g.spec.name, hashes[g.spec.name]), ...(extraLogins[g.spec.name] ?? [])].map((login) => ({
          login,
          permissions: g.permissions,
        })),
      );
  return {
    topology,
    ...security,
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

/** The in-cluster TLS files and route credentials: TLS when the stack enables it, route auth whenever clustered. */
export function kubernetesSecurity(config: StackConfig, routePassword: string = REDACTED_ROUTE_PASSWORD): ConnectionSecurity {
  return {
    ...(config.tls !== "off" ? { tls: TLS_FILES } : {}),
    ...(config.replicas > 1
      ? { routeAuth: { user: ROUTE_USER, password: routePassword, ...(config.routePasswordRotation ? { unchecked: true } : {}) } }
      : {}),
  };
}

/** nats.conf and the Kubernetes objects of the in-cluster deployment. */
export function renderCluster(
  config: StackConfig,
  grants: readonly UserGrant[],
  hashes: PasswordHashes,
  routePassword?: string,
  extraLogins: ExtraLogins = {},
): RenderedCluster {
  const input = natsConfInput(config, kubernetesTopology(config), grants, hashes, kubernetesSecurity(config, routePassword), extraLogins);
  const natsConf = renderNatsConf(input);
  const checksum = restartChecksum(input);
  return { natsConf, restartChecksum: checksum, objects: renderKubernetesObjects({ config, natsConf, restartChecksum: checksum }) };
}
