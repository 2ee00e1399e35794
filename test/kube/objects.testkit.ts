// Test kit: where a rendered object lives in the API (its REST path) and how what the server keeps differs from
// what was sent. The server adds defaults and status, which is no difference; a field it dropped (a CRD schema
// prunes unknown fields without an error) or rewrote (a quantity normalised) is one, and the OpenAPI checks of the
// renderers cannot see either.

import { parseAllDocuments } from "yaml";

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

/** Kinds whose objects are not in a namespace, among those the program deploys or the tests read. */
const CLUSTER_SCOPED = new Set(["Namespace", "Node", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);

/** The resource name of a kind as the API spells it in paths (NetworkPolicy -> networkpolicies). */
export function plural(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  if (lower.endsWith("s")) return `${lower}es`;
  return `${lower}s`;
}

/** The REST path of an object: /api/v1/... for the core group, /apis/<group>/<version>/... otherwise. */
export function apiPath(object: ObjectRef): string {
  const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const scope = CLUSTER_SCOPED.has(object.kind) ? "" : `/namespaces/${object.metadata.namespace ?? "default"}`;
  return `${base}${scope}/${plural(object.kind)}/${object.metadata.name}`;
}

/** "Kind/namespace/name", the key tests name objects by. */
export function objectKey(object: ObjectRef): string {
  return `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}

/** The objects of a YAML stream (`npm run render -- --out -`, kubernetesManifests). */
export function objectsOfYaml(text: string): ObjectRef[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as ObjectRef | null)
    .filter((o): o is ObjectRef => typeof o?.kind === "string");
}

/**
 * Every path where `sent` has a value that `live` lacks or holds differently, as `path: sent => live`. Lists are
 * compared element by element; extra fields and elements in `live` (defaults) are not differences.
 */
export function fieldDifferences(sent: unknown, live: unknown, path = ""): string[] {
  if (sent === null || typeof sent !== "object") {
    return sent === live ? [] : [`${path || "."}: ${JSON.stringify(sent)} => ${JSON.stringify(live)}`];
  }
  if (live === null || typeof live !== "object" || Array.isArray(sent) !== Array.isArray(live)) {
    return [`${path || "."}: ${JSON.stringify(sent)} => ${JSON.stringify(live)}`];
  }
  const sentFields = Object.entries(sent as Record<string, unknown>);
  const liveObject = live as Record<string, unknown>;
  return sentFields.flatMap(([key, value]) => fieldDifferences(value, liveObject[key], Array.isArray(sent) ? `${path}[${key}]` : `${path}.${key}`));
}
