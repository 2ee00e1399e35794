// The NATS cluster as a Pulumi component: registers the objects that infra/kubernetesObjects.ts renders, with
// the real nats.conf (bcrypt hashes of secret passwords) only inside the Secret.

import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { renderCluster, type ExtraLogins } from "./renderCluster";
import { hashPassword, REDACTED_HASHES, SALT_KEY_BYTES, type PasswordHashes } from "./passwordHash";
import { renderCertManagerObjects } from "./kubernetesObjects";
import type { UserGrant } from "./userGrants";
import { clientUrl } from "./clusterLayout";
import { secretConfig } from "./pulumiStackConfig";
import { nextLoginOf, type UserName } from "./users";
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
  /** The `<user>-next` logins' passwords of the users in `rotatingUsers` (secret). */
  public readonly nextPasswords: Partial<Record<UserName, pulumi.Output<string>>>;

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
    // The second credential of each rotating user (README "Password rotation"), generated and kept in state.
    const nextPasswords = Object.fromEntries(
      config.rotatingUsers.map((user) => [
        user,
        new random.RandomPassword(`${nextLoginOf(user)}-password`, { length: 32, special: false }, { parent: this }).result,
      ]),
    ) as Partial<Record<UserName, pulumi.Output<string>>>;
    this.passwords = passwords;
    this.nextPasswords = nextPasswords;

    // What every server presents on its routes (cluster authorization): only the cluster's own servers may join.
    const routePassword =
      secretConfig("routePassword") ?? new random.RandomPassword("route-password", { length: 32, special: false }, { parent: this }).result;

    // The bcrypt salts' secret key (infra/passwordHash.ts): kept in state so unchanged passwords keep their hashes.
    const saltKey = new random.RandomBytes("bcrypt-salt-key", { length: SALT_KEY_BYTES }, { parent: this }).base64;

    // Objects are rendered with placeholder hashes: auth is not part of any of them except the Secret, so the
    // StatefulSet stays a plain, fully known value and `pulumi preview` shows its exact diff.
    const objects = renderCluster(config, grants, REDACTED_HASHES).objects;
    const natsConf = pulumi.secret(
      pulumi.all([passwords, saltKey, routePassword, nextPasswords]).apply(([pw, key, route, next]) => {
        const hashes = Object.fromEntries(
          Object.entries(pw).map(([user, password]) => [user, hashPassword(user, password, key)]),
        ) as PasswordHashes;
        const extraLogins: ExtraLogins = Object.fromEntries(
          Object.entries(next).map(([user, password]) => {
            const login = nextLoginOf(user as UserName);
            return [user, [{ user: login, passwordHash: hashPassword(login, password as string, key) }]];
          }),
        );
        return renderCluster(config, grants, hashes, route, extraLogins).natsConf;
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
    // cert-manager's Issuers and Certificates (tls: cert-manager); the pods need the TLS Secret they produce.
    const certificates = renderCertManagerObjects(config).map(
      (object) => new k8s.apiextensions.CustomResource(`${object.kind.toLowerCase()}-${object.metadata.name}`, { ...object }, inNs),
    );
    new k8s.core.v1.Service("client-service", objects.clientService, inNs);
    this.statefulSet = new k8s.apps.v1.StatefulSet("statefulset", asArgs<k8s.apps.v1.StatefulSetArgs>(objects.statefulSet), {
      ...child,
      dependsOn: [ns, sa, secret, headless, ...certificates],
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
