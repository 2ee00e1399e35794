// The NATS cluster as a Pulumi component: registers the objects that infra/kubernetesObjects.ts renders, with
// the real nats.conf (bcrypt hashes of secret passwords, or public NKEYs) only inside the Secret.

import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { StorageGuard } from "../streams/provider/resources";
import * as random from "@pulumi/random";
import { clusterLogins, renderCluster } from "./renderCluster";
import { hashPassword, REDACTED_HASHES, SALT_KEY_BYTES, type PasswordHashes } from "./passwordHash";
import { renderCertManagerObjects, renderRegionObjects } from "./kubernetesObjects";
import type { UserGrant } from "./userGrants";
import { clientUrl } from "./clusterLayout";
import { secretConfig } from "./pulumiStackConfig";
import { nextLoginOf, type UserName } from "./users";
import { PROJECT, usesNkeys, usesPasswords, type StackConfig } from "./stackConfig";
import { NKEY_SEED_BYTES, userNkeyFromBytes, userNkeyFromSeed } from "./nkeys";
import { declaredFieldsWin } from "./fieldOwnership";

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
  /** Regions only: what never crosses the link to the peer region (DeploymentModel.leafDenied). */
  readonly leafDenied?: readonly string[];
}

export class NatsCluster extends pulumi.ComponentResource {
  /** Ready when every pod is ready: streams are created only after this. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  public readonly namespace: pulumi.Output<string>;
  public readonly clientUrl: string;
  /** Every user's password (secret): from stack config, or generated once and kept in state. None with nkey. */
  public readonly passwords: Partial<Record<UserName, pulumi.Output<string>>>;
  /** The `<user>-next` logins' passwords of the users in `rotatingUsers` (secret). */
  public readonly nextPasswords: Partial<Record<UserName, pulumi.Output<string>>>;
  /** Every user's NKEY seed (secret) with authentication nkey or password+nkey: from stack config, or from 32 random bytes kept in state. */
  public readonly seeds: Partial<Record<UserName, pulumi.Output<string>>>;
  /** The `<user>-next` logins' NKEY seeds of the users in `rotatingUsers` (secret). */
  public readonly nextSeeds: Partial<Record<UserName, pulumi.Output<string>>>;

  constructor(name: string, args: NatsClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fluo-queue:infra:NatsCluster", name, {}, opts);
    const { config, grants, provider } = args;
    const child = { parent: this, provider };
    const mode = config.authentication;
    const byUser = <T>(users: readonly UserName[], make: (user: UserName) => T): Partial<Record<UserName, T>> =>
      Object.fromEntries(users.map((user) => [user, make(user)])) as Partial<Record<UserName, T>>;
    const users = grants.map((g) => g.spec.name);
    const specOf = (user: UserName) => grants.find((g) => g.spec.name === user)!.spec;

    const passwords = usesPasswords(mode)
      ? byUser(users, (user) =>
          secretConfig(specOf(user).passwordKey) ??
          new random.RandomPassword(`${user}-password`, { length: 32, special: false }, { parent: this }).result,
        )
      : {};
    // The second credential of each rotating user (README "Password rotation", "NKEY authentication"), generated and kept in state.
    const nextPasswords = usesPasswords(mode)
      ? byUser(config.rotatingUsers, (user) =>
          new random.RandomPassword(`${nextLoginOf(user)}-password`, { length: 32, special: false }, { parent: this }).result,
        )
      : {};
    // NKEY seeds: 32 random bytes in state (RandomBytes keeps its output secret), encoded as the NATS seed, or a
    // seed from config, which the stream provider can read (it cannot read state) and the engine tests set.
    const generatedSeed = (login: string): pulumi.Output<string> =>
      new random.RandomBytes(`${login}-nkey-seed`, { length: NKEY_SEED_BYTES }, { parent: this }).base64.apply(
        (bytes) => userNkeyFromBytes(Buffer.from(bytes, "base64")).seed,
      );
    const seeds = usesNkeys(mode)
      ? byUser(users, (user) => {
          const key = specOf(user).seedKey;
          const configured = secretConfig(key)?.apply((seed) => userNkeyFromSeed(seed, `${PROJECT}:${key}`).seed);
          return pulumi.secret(configured ?? generatedSeed(user));
        })
      : {};
    const nextSeeds = usesNkeys(mode) ? byUser(config.rotatingUsers, (user) => pulumi.secret(generatedSeed(nextLoginOf(user)))) : {};
    this.passwords = passwords;
    this.nextPasswords = nextPasswords;
    this.seeds = seeds;
    this.nextSeeds = nextSeeds;

    // What every server presents on its routes (cluster authorization): only the cluster's own servers may join.
    // Routes have no NKEY login in nats-server, so this password stays with every authentication mode.
    const routePassword =
      secretConfig("routePassword") ?? new random.RandomPassword("route-password", { length: 32, special: false }, { parent: this }).result;

    // The bcrypt salts' secret key (infra/passwordHash.ts): kept in state so unchanged passwords keep their hashes.
    // Set in config (base64 of SALT_KEY_BYTES random bytes), it replaces the generated one, as a password in config
    // replaces its RandomPassword: a stack can then run without the random provider (the engine tests do).
    const saltKey = usesPasswords(mode)
      ? (secretConfig("bcryptSaltKey") ?? new random.RandomBytes("bcrypt-salt-key", { length: SALT_KEY_BYTES }, { parent: this }).base64)
      : pulumi.output("");

    // Objects are rendered with placeholder hashes: auth is not part of any of them except the Secret, so the
    // StatefulSet stays a plain, fully known value and `pulumi preview` shows its exact diff.
    const placeholders = clusterLogins(mode, { hashes: REDACTED_HASHES });
    const denied = args.leafDenied ?? [];
    const objects = renderCluster(config, grants, placeholders.hashes, undefined, placeholders.extraLogins, { denied }).objects;
    // The link's password: both stacks of a region pair set the same (parseStackConfig refuses a region without it).
    const leafPassword = config.region !== undefined ? (secretConfig("leafPassword") ?? pulumi.output("")) : pulumi.output("");
    const publicKeysOf = (all: Record<string, string>) =>
      Object.fromEntries(Object.entries(all).map(([user, seed]) => [user, userNkeyFromSeed(seed).publicKey])) as Record<UserName, string>;
    const natsConf = pulumi.secret(
      pulumi.all([passwords, saltKey, routePassword, nextPasswords, seeds, nextSeeds, leafPassword]).apply(([pw, key, route, next, seed, nextSeed, leaf]) => {
        const hash = (login: string, password: string) => hashPassword(login, password, key);
        const logins = clusterLogins(mode, {
          hashes: Object.fromEntries(Object.entries(pw).map(([user, password]) => [user, hash(user, password)])) as PasswordHashes,
          nextHashes: Object.fromEntries(Object.entries(next).map(([user, password]) => [user, hash(nextLoginOf(user as UserName), password)])),
          publicKeys: publicKeysOf(seed),
          nextPublicKeys: publicKeysOf(nextSeed),
        });
        return renderCluster(config, grants, logins.hashes, route, logins.extraLogins, { denied, password: leaf }).natsConf;
      }),
    );

    const ns = new k8s.core.v1.Namespace("namespace", declaredFieldsWin(objects.namespace), child);
    const inNs = { ...child, dependsOn: [ns] };
    const sa = new k8s.core.v1.ServiceAccount("service-account", declaredFieldsWin(objects.serviceAccount), inNs);
    const secret = new k8s.core.v1.Secret(
      "config",
      declaredFieldsWin({ ...objects.configSecret, stringData: { "nats.conf": natsConf } }),
      { ...inNs, additionalSecretOutputs: ["data", "stringData"] },
    );
    const headless = new k8s.core.v1.Service("headless-service", declaredFieldsWin(objects.headlessService), inNs);
    // cert-manager's Issuers and Certificates (tls: cert-manager); the pods need the TLS Secret they produce.
    const certificates = renderCertManagerObjects(config).map(
      (object) => new k8s.apiextensions.CustomResource(`${object.kind.toLowerCase()}-${object.metadata.name}`, declaredFieldsWin({ ...object }), inNs),
    );
    new k8s.core.v1.Service("client-service", declaredFieldsWin(objects.clientService), inNs);
    // A volume change replaces the StatefulSet: refused in this guard's diff, so in preview, unless opted in.
    const storageGuard = new StorageGuard(
      "storage-guard",
      { storageSize: config.storageSize, storageClass: config.storageClass ?? "", allowStorageChange: config.allowStorageChange },
      // Not `child`: its Kubernetes provider cannot serve a dynamic resource ("unrecognized resource type").
      { parent: this },
    );
    this.statefulSet = new k8s.apps.v1.StatefulSet("statefulset", asArgs<k8s.apps.v1.StatefulSetArgs>(declaredFieldsWin(objects.statefulSet)), {
      ...child,
      dependsOn: [ns, sa, secret, headless, storageGuard, ...certificates],
      // A replaced StatefulSet loses nothing by itself (PVCs are retained), but it restarts every server at once.
      protect: config.protect,
    });
    new k8s.policy.v1.PodDisruptionBudget("pdb", declaredFieldsWin(objects.podDisruptionBudget), inNs);
    // Regions: the leafnode listener's Service, for the peer region's standby.
    for (const service of renderRegionObjects(config)) new k8s.core.v1.Service("leaf-service", asArgs<k8s.core.v1.ServiceArgs>(declaredFieldsWin(service)), inNs);
    new k8s.networking.v1.NetworkPolicy("network-policy", declaredFieldsWin(objects.networkPolicy), inNs);

    this.namespace = ns.metadata.name;
    this.clientUrl = clientUrl(config);
    this.registerOutputs({ namespace: this.namespace, clientUrl: this.clientUrl });
  }
}
