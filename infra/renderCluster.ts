// nats.conf and the Kubernetes objects of one cluster from config, grants and password hashes. One function
// for both topologies (Kubernetes pods, local processes), so local mode runs the nats.conf that deploys.

import { nextLoginOf, STREAM_ACCOUNT, SYSTEM_ACCOUNT, userSpecs, type UserName } from "./users";
import { accountLayout } from "./accounts";
import { renderNatsConf, restartChecksum, type LeafLink, type NatsConfInput, type NatsLogin, type NatsTopology, type RouteAuth, type TlsFiles } from "./natsConfig";
import { kubernetesTopology, LAME_DUCK_GRACE_PERIOD, PEER_CA_FILE, TLS_FILES } from "./clusterLayout";
import { renderKubernetesObjects, type KubernetesObjects } from "./kubernetesObjects";
import { usesNkeys, usesPasswords, type Authentication, type StackConfig } from "./stackConfig";
import type { PasswordHashes } from "./passwordHash";
import type { UserGrant } from "./userGrants";

/** TLS files and route credentials of one deployment (both optional: dev runs plaintext). */
export interface ConnectionSecurity {
  readonly tls?: TlsFiles;
  readonly routeAuth?: RouteAuth;
  /** Regions only: the link to the peer region (natsConfig.ts LeafLink). */
  readonly leaf?: LeafLink;
}

/** The user a peer region's leafnode logs in as. */
export const LEAF_USER = "fluo-leaf";
/** Stand-in for the link's password where it is not known (objects other than the Secret, redacted renders). */
export const REDACTED_LEAF_PASSWORD = "<redacted: leaf password>";

/** What renders the link to the peer region: its password (a secret) and the subjects that never cross it. */
export interface RegionLink {
  readonly password?: string;
  readonly denied: readonly string[];
  /** A standby's peer URLs; default: the stack's peerLeafUrls. */
  readonly remoteUrls?: readonly string[];
  readonly remoteCaFile?: string;
}

/** The leaf link of a region's stack, or nothing for a stack without a region. */
export function leafLink(config: StackConfig, link: RegionLink | undefined): LeafLink | undefined {
  if (config.region === undefined || link === undefined) return undefined;
  return {
    user: LEAF_USER,
    password: link.password ?? REDACTED_LEAF_PASSWORD,
    account: STREAM_ACCOUNT,
    denied: link.denied,
    remoteUrls: config.regionRole === "standby" ? (link.remoteUrls ?? config.peerLeafUrls) : [],
    ...(link.remoteCaFile ? { remoteCaFile: link.remoteCaFile } : {}),
  };
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

/** The password hashes and further logins nats.conf lists, as natsConfInput and renderCluster take them. */
export interface ClusterLogins {
  readonly hashes: PasswordHashes;
  readonly extraLogins: ExtraLogins;
}

/** What the logins of one deployment are made of; only the parts the authentication mode uses are read. */
export interface Credentials {
  /** bcrypt hashes of every identity's own password. */
  readonly hashes: PasswordHashes;
  /** bcrypt hashes of the `<user>-next` passwords of the users rotating. */
  readonly nextHashes?: Readonly<Partial<Record<UserName, string>>>;
  /** Public NKEYs ("U...") of every identity. */
  readonly publicKeys?: Readonly<Record<UserName, string>>;
  /** Public NKEYs of the `<user>-next` logins of the users rotating. */
  readonly nextPublicKeys?: Readonly<Partial<Record<UserName, string>>>;
}

/** Stand-ins for public NKEYs where the seeds are not known (objects other than the Secret, renders without seeds). */
export const REDACTED_PUBLIC_KEYS: Readonly<Record<UserName, string>> = Object.fromEntries(
  userSpecs().map((s) => [s.name, `<public NKEY of ${s.name}: derived from its seed>`]),
) as Record<UserName, string>;

/** The hashes of an identity set without password logins (authentication nkey): nats.conf lists none. */
export const noPasswords = (): PasswordHashes => Object.fromEntries(userSpecs().map((s) => [s.name, NO_PASSWORD])) as PasswordHashes;

/**
 * Every identity's logins under an authentication mode: with "nkey" nats.conf holds public keys and no password
 * hash at all; with "password+nkey" both, so running services can move to their seeds one at a time. A rotating
 * user's `<user>-next` login has a credential of each kind the mode uses, never the first login's key.
 */
export function clusterLogins(mode: Authentication, credentials: Credentials): ClusterLogins {
  const passwords = usesPasswords(mode);
  const nkeys = usesNkeys(mode);
  const publicKeys = credentials.publicKeys ?? REDACTED_PUBLIC_KEYS;
  const extraLogins: Partial<Record<UserName, NatsLogin[]>> = {};
  for (const { name } of userSpecs()) {
    const nextHash = credentials.nextHashes?.[name];
    const nextKey = credentials.nextPublicKeys?.[name];
    // The `-next` key equals the identity's own once step 3 of a rotation set the own seed to it: list it once.
    const keys = nkeys ? [...new Set([publicKeys[name], ...(nextKey !== undefined ? [nextKey] : [])])] : [];
    const logins: NatsLogin[] = [
      ...(passwords && nextHash !== undefined ? [{ user: nextLoginOf(name), passwordHash: nextHash }] : []),
      ...keys.map((nkey) => ({ nkey })),
    ];
    if (logins.length > 0) extraLogins[name] = logins;
  }
  return { hashes: passwords ? credentials.hashes : noPasswords(), extraLogins };
}

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
  // Every login of an identity gets the same permissions (and so the same inbox prefix, and its account): a second
  // login is a second credential of the same service, valid side by side with the first during a rotation.
  const usersOf = (identities: readonly UserName[]) =>
    grants
      .filter((g) => identities.includes(g.spec.name))
      .flatMap((g) =>
        [...passwordLogin(g.spec.name, hashes[g.spec.name]), ...(extraLogins[g.spec.name] ?? [])].map((login) => ({
          login,
          permissions: g.permissions,
          ...(g.spec.connectionTypes ? { connectionTypes: g.spec.connectionTypes } : {}),
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
    accounts: accountLayout(grants).map((plan) => ({
      name: plan.name,
      jetstream: plan.jetstream,
      users: usersOf(plan.identities),
      exports: plan.exports,
      imports: plan.imports,
      // The account of a browser identity: its connection count is the stack's, per connection limits are the identity's.
      ...(plan.connectionLimits
        ? { limits: { maxConnections: config.websocketMaxConnections, maxSubscriptions: plan.connectionLimits.maxSubscriptions, maxPayload: plan.connectionLimits.maxPayload } }
        : {}),
    })),
    systemAccount: SYSTEM_ACCOUNT,
    ...(config.region !== undefined ? { jetstreamDomain: config.region } : {}),
    ...(config.websocket ? { websocket: { noTls: config.websocketNoTls, allowedOrigins: config.websocketAllowedOrigins } } : {}),
  };
}

export interface RenderedCluster {
  readonly natsConf: string;
  readonly restartChecksum: string;
  readonly objects: KubernetesObjects;
}

/** The in-cluster TLS files and route credentials: TLS when the stack enables it, route auth whenever clustered. */
export function kubernetesSecurity(config: StackConfig, routePassword: string = REDACTED_ROUTE_PASSWORD, link?: RegionLink): ConnectionSecurity {
  const leaf = leafLink(config, link && { ...link, remoteCaFile: config.peerCaSecretName ? PEER_CA_FILE : undefined });
  return {
    ...(leaf ? { leaf } : {}),
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
  link?: RegionLink,
): RenderedCluster {
  const input = natsConfInput(config, kubernetesTopology(config), grants, hashes, kubernetesSecurity(config, routePassword, link), extraLogins);
  const natsConf = renderNatsConf(input);
  const checksum = restartChecksum(input);
  return { natsConf, restartChecksum: checksum, objects: renderKubernetesObjects({ config, natsConf, restartChecksum: checksum }) };
}
