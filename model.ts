// The model: validated stack config in, every artifact out, composed from infra/, streams/ and alerts/. It holds
// no rendering of its own, and the program, the CLI and the tests all start here, so what `npm run render`
// shows is what `pulumi up` applies.

import type { StackConfig } from "./infra/stackConfig";
import { passwordHashes } from "./infra/passwordHash";
import { renderCluster } from "./infra/renderCluster";
import { userGrants, type UserGrant } from "./infra/userGrants";
import { stringify } from "yaml";
import { createHash } from "node:crypto";
import { catalogForStack } from "./streams/catalog";
import { catalogGrants } from "./streams/permissions";
import { alertFiles } from "./alerts/objects";
import { alertTargetsFromCatalog, type AlertTargets } from "./alerts/targets";
import { renderStreamsJson } from "./streams/render";
import { assertPolicy } from "./streams/policy";
import type { Catalog } from "./streams/spec";

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
    ...alertFiles(config, model.alertTargets),
  ];
}
