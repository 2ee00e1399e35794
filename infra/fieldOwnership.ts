// Who owns a field of a Kubernetes object the program applies. The Kubernetes provider applies server-side, and
// the API server records a manager per field: a field changed with kubectl (`kubectl scale`, `kubectl label
// --overwrite`) then belongs to kubectl, and the provider's next apply is refused ("Apply failed with 1 conflict:
// conflict with \"kubectl\" with subresource \"scale\": .spec.replicas", kube-apiserver v1.37.2 in
// test/engine.cluster.live.test.ts) instead of putting the declared value back, which is what `npm run deploy`
// promises after drift (README "Drift detection"). The stack is the source of truth for every field it declares,
// so each object asks the provider to take those fields back (`pulumi.com/patchForce`). Fields the program does not
// declare stay with whoever set them.

/** The provider's annotation that turns apply conflicts into taking the field back (provider 4.25, await.go patchForce). */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/** `object` with the annotation that makes the stack's apply win over kubectl's edits of the same fields. */
export function declaredFieldsWin<T extends { readonly metadata?: object }>(object: T): T {
  const metadata = (object.metadata ?? {}) as { readonly annotations?: Readonly<Record<string, string>> };
  return { ...object, metadata: { ...metadata, annotations: { ...metadata.annotations, [PATCH_FORCE_ANNOTATION]: "true" } } };
}
