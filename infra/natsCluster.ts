// The NATS cluster as a Pulumi component: registers the objects that infra/kubernetesObjects.ts renders, with
// the real nats.conf (bcrypt hashes of secret passwords) only inside the Secret.

import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { renderCluster } from "./renderCluster";
import { hashPassword, REDACTED_HASHES, type PasswordHashes } from "./passwordHash";
import type { UserGrant } from "./userGrants";
import { clientUrl } from "./clusterLayout";
import { secretConfig } from "./pulumiStackConfig";
import type { UserName } from "./users";
import type { StackConfig } from "./stackConfig";

/**
 * The renderers type objects with kubernetes-models (whose schemas the tests validate against); its TypeScript
 * models and @pulumi/kubernetes's differ in how they spell quantities and int-or-string fields, not in shape.
 */
export function asArgs<T>(object: object): T {
  return object as unknown as T;
}

export interface NatsClusterArgs {
  readonly config: StackConfig;
  readonly grants: readonly UserGrant[];
  readonly provider: k8s.Provider;
}

export class NatsCluster extends pulumi.ComponentResource {
  /** Ready when every pod is ready: streams are created only after this. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  public readonly namespace: pulumi.Output<string>;
  public readonly clientUrl: string;
  /** Every user's password (secret): from stack config, or generated once and kept in state. */
  public readonly passwords: Record<UserName, pulumi.Output<string>>;

  constructor(name: string, args: NatsClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fluo-queue:infra:NatsCluster", name, {}, opts);
    const { config, grants, provider } = args;
    const child = { parent: this, provider };

    const passwords = {} as Record<UserName, pulumi.Output<string>>;
    for (const { spec } of grants) {
      passwords[spec.name] =
        secretConfig(spec.passwordKey) ??
        new random.RandomPassword(`${spec.name}-password`, { length: 32, special: false }, { parent: this }).result;
    }
    this.passwords = passwords;

    // Objects are rendered with placeholder hashes: auth is not part of any of them except the Secret, so the
    // StatefulSet stays a plain, fully known value and `pulumi preview` shows its exact diff.
    const objects = renderCluster(config, grants, REDACTED_HASHES).objects;
    const natsConf = pulumi.secret(
      pulumi.all(passwords).apply((pw) => {
        const hashes = Object.fromEntries(
          Object.entries(pw).map(([user, password]) => [user, hashPassword(user, password)]),
        ) as PasswordHashes;
        return renderCluster(config, grants, hashes).natsConf;
      }),
    );

    const ns = new k8s.core.v1.Namespace("namespace", objects.namespace, child);
    const inNs = { ...child, dependsOn: [ns] };
    const sa = new k8s.core.v1.ServiceAccount("service-account", objects.serviceAccount, inNs);
    const secret = new k8s.core.v1.Secret(
      "config",
      { ...objects.configSecret, stringData: { "nats.conf": natsConf } },
      { ...inNs, additionalSecretOutputs: ["data", "stringData"] },
    );
    const headless = new k8s.core.v1.Service("headless-service", objects.headlessService, inNs);
    new k8s.core.v1.Service("client-service", objects.clientService, inNs);
    this.statefulSet = new k8s.apps.v1.StatefulSet("statefulset", asArgs<k8s.apps.v1.StatefulSetArgs>(objects.statefulSet), {
      ...child,
      dependsOn: [ns, sa, secret, headless],
      // A replaced StatefulSet loses nothing by itself (PVCs are retained), but it restarts every server at once.
      protect: config.protect,
    });
    new k8s.policy.v1.PodDisruptionBudget("pdb", objects.podDisruptionBudget, inNs);
    new k8s.networking.v1.NetworkPolicy("network-policy", objects.networkPolicy, inNs);

    this.namespace = ns.metadata.name;
    this.clientUrl = clientUrl(config);
    this.registerOutputs({ namespace: this.namespace, clientUrl: this.clientUrl });
  }
}
