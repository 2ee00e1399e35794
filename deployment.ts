// The pure core: validated stack config in, every artifact out. The Pulumi program (index.ts), the CLI
// (render, local, drift) and the tests all call these functions, so what `npm run render` shows is what
// `pulumi up` applies.

import { APP_ACCOUNT, SYSTEM_ACCOUNT, userSpecs, type UserName, type UserSpec } from "./infra/users";
import { mergePermissions, type Permissions } from "./infra/permissions";
import { renderNatsConf, restartChecksum, type NatsConfInput, type NatsTopology } from "./infra/natsConfig";
import { kubernetesTopology, LAME_DUCK_GRACE_PERIOD } from "./infra/clusterLayout";
import { renderKubernetesObjects, type KubernetesObjects } from "./infra/kubernetesObjects";
import type { StackConfig } from "./infra/stackConfig";
import { hashPassword } from "./infra/passwordHash";
import { stringify } from "yaml";
import { createHash } from "node:crypto";
import { catalogForStack } from "./streams/catalog";
import { catalogGrants } from "./streams/permissions";
import { monitoringFiles } from "./monitoring/objects";
import { alertTargetsFromCatalog, type AlertTargets } from "./monitoring/targets";
import { renderStreamsJson } from "./streams/render";
import { assertPolicy } from "./streams/policy";
import type { Catalog } from "./streams/spec";

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

/**
 * Stand-ins for the password hashes where the real ones are not known or must not be shown: the objects
 * other than the config Secret, and `npm run render` without --show-secrets. Not a bcrypt hash, so a
 * server started with them accepts no password.
 */
export const REDACTED_HASHES: PasswordHashes = Object.fromEntries(
  userSpecs().map((s) => [s.name, `<redacted: bcrypt hash of the ${s.name} password>`]),
) as PasswordHashes;

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

export interface RenderOptions {
  /** Real passwords by user (e.g. local mode's): nats.conf then carries their bcrypt hashes. */
  readonly passwords?: Readonly<Record<string, string>>;
  /** Write Secret contents as they are; otherwise each value is replaced by its size and digest. */
  readonly showSecrets?: boolean;
}

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
}

/** Bcrypt hashes of the given passwords; a user without one gets the redacted stand-in. */
export function passwordHashes(passwords: Readonly<Record<string, string>> = {}): PasswordHashes {
  const known = new Set(userSpecs().map((s) => s.name));
  for (const user of Object.keys(passwords)) {
    if (!known.has(user as UserName)) throw new Error(`password given for unknown user "${user}" (${[...known].join(", ")})`);
  }
  return Object.fromEntries(
    userSpecs().map((s) => [s.name, passwords[s.name] ? hashPassword(s.name, passwords[s.name]) : REDACTED_HASHES[s.name]]),
  ) as PasswordHashes;
}

function redact(value: string): string {
  return `<redacted: ${Buffer.byteLength(value)} bytes, sha256 ${createHash("sha256").update(value).digest("hex").slice(0, 16)}>`;
}

const toYaml = (object: unknown): string => stringify(object, { lineWidth: 0 });

/** Everything one stack deploys, derived from its config: the one entry point of index.ts and the CLI. */
export interface DeploymentModel {
  readonly config: StackConfig;
  /** The stream catalog with the stack's overrides, already checked against the stream policy. */
  readonly catalog: Catalog;
  /** Users with their base grants plus what the catalog derives for them. */
  readonly grants: readonly UserGrant[];
  readonly alertTargets: AlertTargets;
}

/** Throws (CatalogError, PolicyError, ...) with every problem named before anything is rendered or registered. */
export function deploymentModel(config: StackConfig): DeploymentModel {
  const catalog = catalogForStack(config);
  assertPolicy(catalog, config);
  return {
    config,
    catalog,
    grants: userGrants(catalogGrants(catalog)),
    alertTargets: alertTargetsFromCatalog(config, catalog),
  };
}

/** Every artifact as files (relative path and content), in a fixed order: what `npm run render` writes. */
export function renderFiles(model: DeploymentModel, options: RenderOptions = {}): RenderedFile[] {
  const { config, catalog, grants } = model;
  const cluster = renderCluster(config, grants, passwordHashes(options.passwords));
  const secret = cluster.objects.configSecret;
  const objects = Object.values({
    ...cluster.objects,
    configSecret: options.showSecrets
      ? secret
      : { ...secret, stringData: Object.fromEntries(Object.entries(secret.stringData ?? {}).map(([k, v]) => [k, redact(v)])) },
  });
  return [
    { path: "nats.conf", content: cluster.natsConf },
    { path: "streams.json", content: renderStreamsJson(catalog) },
    ...objects.map((object, i) => ({
      path: `kubernetes/${String(i + 1).padStart(2, "0")}-${object.kind.toLowerCase()}-${object.metadata?.name}.yaml`,
      content: toYaml(object),
    })),
    ...monitoringFiles(config, model.alertTargets),
  ];
}
