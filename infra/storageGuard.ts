// A change of the StatefulSet's volumes (storageSize, storageClass) refused in preview unless the stack opts in.
// Kubernetes cannot update a StatefulSet's volumeClaimTemplates (422 "field is immutable"), so the Kubernetes
// provider replaces the StatefulSet: measured on the real API server (v1.37.2), every pod is deleted and recreated
// at once (the whole cluster is down, with its quorum), and the existing PVCs are kept at their old size, so the
// new size does nothing for them. The guard is a resource of its own whose diff refuses: its inputs are the
// volume settings, and Pulumi asks it during every preview (issue 18).

import type * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "./stackConfig";
import { withoutHostTrace } from "../streams/provider/hostErrors";

export interface StorageGuardInputs {
  readonly storageSize: string;
  /** "" = the cluster's default StorageClass. */
  readonly storageClass: string;
  readonly allowStorageChange: boolean;
}

/** The refusal for a change from `olds` to `news`, or undefined when the volumes stay or the stack opted in. */
export function storageChangeRefusal(olds: StorageGuardInputs, news: StorageGuardInputs): string | undefined {
  const changed = (["storageSize", "storageClass"] as const).filter((k) => (olds[k] ?? "") !== (news[k] ?? ""));
  if (changed.length === 0 || news.allowStorageChange) return undefined;
  const show = (v: string) => (v === "" ? "(the cluster default)" : v);
  const what = changed.map((k) => `${k} ${show(olds[k])} -> ${show(news[k])}`).join(", ");
  return (
    `refusing to change the NATS volumes (${what}): a StatefulSet's volumeClaimTemplates cannot change, so it would be ` +
    `replaced, restarting every server at once (an outage), and the existing volumes keep their size and class. ` +
    `To grow them in place, resize each PVC (\`kubectl -n <namespace> patch pvc data-nats-<i> ...\`, if the StorageClass ` +
    `allows expansion) and keep ${changed.join("/")} as it was. To replace the StatefulSet anyway: ` +
    `\`pulumi config set ${PROJECT}:allowStorageChange true\`, run again, then set it back to false.`
  );
}

/** The guard's dynamic provider (loaded by streams/provider/hostEntry.ts). */
export function storageGuardProvider(): pulumi.dynamic.ResourceProvider<StorageGuardInputs, StorageGuardInputs> {
  return {
    async diff(_id, olds, news) {
      const refusal = storageChangeRefusal(olds, news);
      // Printed once, by the engine, without the SDK host's trace (streams/provider/hostErrors.ts).
      if (refusal) throw withoutHostTrace(new Error(refusal));
      const changes = (["storageSize", "storageClass", "allowStorageChange"] as const).some((k) => olds[k] !== news[k]);
      return { changes };
    },
    async create(inputs) {
      return { id: "nats-volumes", outs: inputs };
    },
    async update(_id, _olds, news) {
      return { outs: news };
    },
    async read(id, props) {
      return { id, props };
    },
    async delete() {},
  };
}
