// The whole stack config (the `fluo-queue:*` keys of Pulumi.<stack>.yaml), validated once.
// Both the Pulumi program and the CLI hand the raw key/value map to `parseStackConfig`; nothing else reads
// config. A bad value fails here, before any resource is registered, with the key, the value and the fix.

import { z } from "zod";
import { parseSize, SIZE_HELP } from "../lib/units";
import {
  compareQuantities,
  cpuQuantity,
  cpuQuantityProblem,
  CPU_QUANTITY_HELP,
  isKubernetesByteQuantity,
  kubernetesQuantitySpelling,
  QUANTITY_HELP,
} from "../lib/kubernetesQuantity";
import { isUserSeed, USER_SEED_HELP } from "./nkeys";
import { USER_NAMES } from "./users";

export const PROJECT = "fluo-queue";

/** Keys read as Pulumi secrets by the program (never part of the rendered model). */
export const SECRET_KEYS = [
  "kubeconfig",
  "bffPassword",
  "backendPassword",
  "workersPassword",
  "provisionerPassword",
  "backupPassword",
  "monitorPassword",
  "operatorPassword",
  "routePassword",
  "bcryptSaltKey",
  // NKEY seeds ("SU..."), read with fluo-queue:authentication nkey or password+nkey (infra/users.ts seedKey).
  "bffSeed",
  "backendSeed",
  "workersSeed",
  "provisionerSeed",
  "backupSeed",
  "monitorSeed",
  "operatorSeed",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/**
 * How every identity logs in. "password": user and bcrypt hash in nats.conf (bcrypt cost 11 on every connect).
 * "nkey": the public NKEY only, the client signs the server's nonce with its seed (no secret in nats.conf, an
 * ed25519 check per connect). "password+nkey": both logins side by side, for moving running services over.
 */
export const AUTHENTICATION_MODES = ["password", "password+nkey", "nkey"] as const;
export type Authentication = (typeof AUTHENTICATION_MODES)[number];
export const usesPasswords = (mode: Authentication): boolean => mode !== "nkey";
export const usesNkeys = (mode: Authentication): boolean => mode !== "password";

const SEED_KEYS: readonly SecretKey[] = SECRET_KEYS.filter((k) => k.endsWith("Seed"));
// What only password logins read: with `nkey` these are credentials kept for nothing (routes keep routePassword).
const PASSWORD_LOGIN_KEYS: readonly SecretKey[] = SECRET_KEYS.filter((k) => (k.endsWith("Password") && k !== "routePassword") || k === "bcryptSaltKey");

/** Object-valued keys: Pulumi.yaml's typed `config:` block has no object type, so they are documented only. */
export const UNTYPED_KEYS = ["streamOverrides"] as const;

const size = (what: string) =>
  z.string().refine((v) => parseSize(v) !== undefined, { message: `${what} must be ${SIZE_HELP}` });

// Values that land in a Kubernetes object (PVC size, container memory) must be spelled as Kubernetes spells
// quantities: the loose size syntax would render and then have the StatefulSet rejected by the API server.
const quantity = z.string().superRefine((v, ctx) => {
  if (isKubernetesByteQuantity(v)) return;
  const spelling = kubernetesQuantitySpelling(v);
  ctx.addIssue({
    code: "custom",
    message: `not a Kubernetes quantity (the API server would reject the StatefulSet)${spelling ? `; write "${spelling}"` : ""}. Allowed: ${QUANTITY_HELP}`,
  });
});

// CPU amounts go into the same container resources; Kubernetes takes more spellings than bytes (m, exponents) and
// some that no node can schedule (a binary suffix, mega): lib/kubernetesQuantity.ts says which and why.
const cpu = z.string().superRefine((v, ctx) => {
  const problem = cpuQuantityProblem(v);
  if (!problem) return;
  ctx.addIssue({
    code: "custom",
    message: `${problem.reason}${problem.spelling ? `; write "${problem.spelling}"` : ""}. Allowed: ${CPU_QUANTITY_HELP}`,
  });
});

// Image references must name a version: a floating tag makes two `pulumi up` runs deploy different servers.
const image = z
  .string()
  .regex(/^[a-z0-9.\-/:_]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/, {
    message: 'must be "<repository>:<tag>" or "<repository>@sha256:<digest>"',
  })
  .refine((v) => !/:latest$/.test(v), { message: 'must pin a version: "latest" changes under you' });

const k8sName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: "must be a DNS-1123 label (lower case letters, digits, '-')" })
  .max(63);

const labelPair = z
  .string()
  .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?=[A-Za-z0-9]?([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, {
    message: 'must be "key=value" with a valid Kubernetes label key and value',
  });

const durationString = z.string().regex(/^(\d+(ms|s|m|h))+$/, { message: 'must be a duration such as "30s" or "2m"' });

/** Every plain (non-secret) key, its type and its default: the source of the Pulumi.yaml `config:` block. */
export const stackConfigSchema = z
  .object({
    environment: z.enum(["dev", "staging", "prod"]).default("dev"),
    kubeContext: z.string().min(1).optional(),
    namespace: k8sName.default("fluo-queue"),
    clusterName: z.string().regex(/^[A-Za-z0-9_-]+$/, { message: "must be letters, digits, '-' or '_'" }).default("fluo-cluster"),
    replicas: z.number().int().refine((n) => n === 1 || n === 3 || n === 5, {
      message: "must be 1, 3 or 5: JetStream's Raft needs an odd member count, and at most 5 replicas per stream",
    }).default(3),
    natsImage: image.default("nats:2.15.3-alpine"),
    reloaderImage: image.default("natsio/nats-server-config-reloader:0.16.1"),
    exporterImage: image.default("natsio/prometheus-nats-exporter:0.20.1"),
    maxMemoryStore: size("maxMemoryStore").default("1GiB"),
    maxFileStore: size("maxFileStore").default("10GiB"),
    storageSize: quantity.default("12Gi"),
    storageClass: z.string().min(1).optional(),
    cpuRequest: cpu.default("100m"),
    cpuLimit: cpu.optional(),
    memoryRequest: quantity.default("2Gi"),
    memoryLimit: quantity.default("2Gi"),
    clientNamespaces: z.array(k8sName).default([]),
    monitoringNamespace: k8sName.default("monitoring"),
    requireHostSpread: z.boolean().default(true),
    zoneSpread: z.boolean().default(false),
    protect: z.boolean().default(false),
    lameDuckDuration: durationString.default("30s"),
    prometheusOperator: z.boolean().default(true),
    grafanaNamespace: k8sName.default("monitoring"),
    podMonitorLabels: z.array(labelPair).default(["release=kube-prometheus-stack"]),
    // Alerts link to `<runbookBaseUrl>#runbook-<alert>`: the README's runbook sections.
    runbookBaseUrl: z.string().regex(/^[^\s#]+$/, { message: "must be a URL without spaces or '#'" }).default("README.md"),
    // TLS for clients and routes: certificates from cert-manager (Issuer/Certificate objects), or a
    // kubernetes.io/tls Secret with ca.crt that the operator provides (clusters without cert-manager).
    tls: z.enum(["off", "cert-manager", "secret"]).default("off"),
    tlsSecretName: k8sName.default("nats-tls"),
    // GitOps mode: the Kubernetes provider writes manifests below this directory instead of applying them.
    renderYamlToDirectory: z.string().min(1).optional(),
    natsUrl: z.string().regex(/^(nats|tls):\/\/[^\s]+$/, { message: 'must be a NATS URL such as "nats://127.0.0.1:4222"' }).optional(),
    streamOverrides: z.record(z.string(), z.unknown()).default({}),
    allowDestroy: z.array(z.string()).default([]),
    // Users in the middle of a password rotation: each gets a second login `<user>-next` (a generated password,
    // same permissions and inbox) beside its own, so services switch without a gap (README "Password rotation"; with NKEYs, a key of its own).
    rotatingUsers: z.array(z.enum(USER_NAMES)).default([]),
    authentication: z.enum(AUTHENTICATION_MODES, { message: `must be one of ${AUTHENTICATION_MODES.join(", ")}` }).default("password"),
    // The window of a route password change: servers keep presenting their route credentials but stop checking
    // them (TLS, when on, still checks the certificate), because a cluster accepts one route password only and a
    // rolling reload would otherwise split old from new servers (README "Route password rotation").
    routePasswordRotation: z.boolean().default(false),
    // Read by the stream provider in configure() (streams/provider/settings.ts): the time budget of one operation.
    natsTimeout: z.string().regex(/^\d+(ms|s|m)$/, { message: 'must be a duration such as "20s" or "2m"' }).default("20s"),
  })
  .strict();

export type StackConfigInput = z.input<typeof stackConfigSchema>;
type ParsedKeys = z.output<typeof stackConfigSchema>;

/** The validated config with sizes resolved to bytes. */
export interface StackConfig extends ParsedKeys {
  readonly stack: string;
  readonly bytes: {
    readonly maxMemoryStore: number;
    readonly maxFileStore: number;
    readonly storageSize: number;
    readonly memoryRequest: number;
    readonly memoryLimit: number;
  };
}

// A filesystem loses a few percent to metadata and reserved blocks (a 10Gi volume has about 9.7Gi usable) and
// JetStream needs room for indexes and compaction: demand 10% headroom so max_file_store is reachable.
export const STORAGE_HEADROOM = 1.1;
// The server's own heap (connections, Raft, file store caches) on top of the memory store.
export const SERVER_MEMORY_OVERHEAD = 512 * 2 ** 20;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    // One problem is one line; several are one line each under a header.
    super(problems.length === 1 ? `invalid stack config: ${problems[0]}` : `invalid stack config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const show = (value: unknown): string => (value === undefined ? "(unset)" : JSON.stringify(value));

/**
 * Coerce a raw Pulumi config value (always a string in the engine, typed in a YAML file) to what the schema
 * expects: Pulumi stores `replicas: 3` as "3" and arrays/objects as JSON text; and a YAML number or boolean for a
 * string key (`cpuLimit: 2`, `kubeContext: true`) reaches the program as its text, so the CLI reading the file
 * takes it as text too.
 */
function coerce(key: string, raw: unknown): unknown {
  const shape = (stackConfigSchema.shape as Record<string, z.ZodType>)[key];
  if (!shape) return raw;
  if (typeof raw === "number" || typeof raw === "boolean") {
    const asIs = shape.safeParse(raw);
    const wantsString = !asIs.success && asIs.error.issues.some((i) => i.code === "invalid_type" && i.expected === "string");
    return wantsString ? String(raw) : raw;
  }
  if (typeof raw !== "string") return raw;
  const probe = shape.safeParse(raw);
  if (probe.success) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Validate the raw `fluo-queue:*` values of one stack (keys without the namespace prefix).
 * Throws ConfigError listing every problem with its key.
 */
export function parseStackConfig(stack: string, raw: Readonly<Record<string, unknown>>): StackConfig {
  const plain: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
    if (!(key in stackConfigSchema.shape)) {
      const known = [...Object.keys(stackConfigSchema.shape), ...SECRET_KEYS].sort().join(", ");
      problems.push(`${PROJECT}:${key}: unknown key. Known keys: ${known}`);
      continue;
    }
    plain[key] = coerce(key, value);
  }
  const parsed = stackConfigSchema.safeParse(plain);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.map(String).join(".");
      const top = String(issue.path[0] ?? "");
      problems.push(`${PROJECT}:${key} = ${show(raw[top] === undefined ? undefined : plain[top])}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const c = parsed.data;
  const bytes = {
    maxMemoryStore: parseSize(c.maxMemoryStore)!,
    maxFileStore: parseSize(c.maxFileStore)!,
    storageSize: parseSize(c.storageSize)!,
    memoryRequest: parseSize(c.memoryRequest)!,
    memoryLimit: parseSize(c.memoryLimit)!,
  };
  problems.push(...crossFieldProblems(c, bytes), ...seedProblems(c, raw), ...unusedPasswordProblems(c, raw));
  if (c.renderYamlToDirectory !== undefined && raw.kubeconfig !== undefined) {
    // The provider refuses the pair ("kubeconfig" arg is not compatible with "renderYamlToDirectory" arg).
    problems.push(
      `${PROJECT}:renderYamlToDirectory = ${show(c.renderYamlToDirectory)} and ${PROJECT}:kubeconfig are both set: GitOps ` +
        `mode writes manifests and talks to no cluster; remove one (\`pulumi config rm ${PROJECT}:kubeconfig\`)`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...c, stack, bytes };
}

/**
 * Seeds set in config: each must be a user seed, and only a mode with NKEY logins reads them. The value is a
 * secret, so a message names the key and never shows it. Encrypted values of a stack file (`secure:`) are not
 * strings here and are checked when the program reads them decrypted.
 */
function seedProblems(c: ParsedKeys, raw: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const key of SEED_KEYS) {
    const value = raw[key];
    if (value === undefined) continue;
    if (!usesNkeys(c.authentication)) {
      problems.push(
        `${PROJECT}:${key} is set, but ${PROJECT}:authentication = "${c.authentication}" logs in with passwords only: ` +
          `set authentication to "password+nkey" or "nkey", or remove the seed (\`pulumi config rm ${PROJECT}:${key}\`)`,
      );
    } else if (typeof value === "string" && !isUserSeed(value.trim())) {
      problems.push(`${PROJECT}:${key} (value not shown: a secret) is not ${USER_SEED_HELP}`);
    }
  }
  return problems;
}

/**
 * Password keys set while every identity logs in with an NKEY: nothing reads them, and a credential nobody uses
 * still leaks from the stack file or state. One line names them all (values never shown).
 */
function unusedPasswordProblems(c: ParsedKeys, raw: Readonly<Record<string, unknown>>): string[] {
  if (usesPasswords(c.authentication)) return [];
  const left = PASSWORD_LOGIN_KEYS.filter((k) => raw[k] !== undefined).map((k) => `${PROJECT}:${k}`);
  if (left.length === 0) return [];
  const names = left.length === 1 ? left[0] : `${left.slice(0, -1).join(", ")} and ${left[left.length - 1]}`;
  return [
    `${names} ${left.length === 1 ? "is" : "are"} set, but ${PROJECT}:authentication = "${c.authentication}" logs in with NKEYs only ` +
      `(routePassword stays): remove ${left.length === 1 ? "it" : "them"} (${left.map((k) => `\`pulumi config rm ${k}\``).join(", ")})`,
  ];
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)}GiB`;
}

function crossFieldProblems(c: ParsedKeys, b: StackConfig["bytes"]): string[] {
  const problems: string[] = [];
  const neededVolume = Math.ceil(b.maxFileStore * STORAGE_HEADROOM);
  if (b.storageSize < neededVolume) {
    problems.push(
      `${PROJECT}:storageSize = "${c.storageSize}": a volume of ${gib(b.storageSize)} cannot hold maxFileStore ` +
        `"${c.maxFileStore}" (${gib(b.maxFileStore)}) plus ${Math.round((STORAGE_HEADROOM - 1) * 100)}% filesystem ` +
        `headroom; set storageSize to at least ${Math.ceil(neededVolume / 2 ** 30)}Gi or lower maxFileStore`,
    );
  }
  const neededMemory = b.maxMemoryStore + SERVER_MEMORY_OVERHEAD;
  if (b.memoryLimit < neededMemory) {
    problems.push(
      `${PROJECT}:memoryLimit = "${c.memoryLimit}": the memory store "${c.maxMemoryStore}" plus ` +
        `${SERVER_MEMORY_OVERHEAD / 2 ** 20}MiB server overhead needs ${gib(neededMemory)}, the pod would be ` +
        `OOM-killed; raise memoryLimit to at least ${Math.ceil(neededMemory / 2 ** 20)}Mi or lower maxMemoryStore`,
    );
  }
  if (b.memoryRequest > b.memoryLimit) {
    problems.push(
      `${PROJECT}:memoryRequest = "${c.memoryRequest}": must not exceed memoryLimit "${c.memoryLimit}"`,
    );
  }
  const cpuRequest = cpuQuantity(c.cpuRequest);
  const cpuLimit = c.cpuLimit === undefined ? undefined : cpuQuantity(c.cpuLimit);
  if (cpuRequest && cpuLimit && compareQuantities(cpuRequest, cpuLimit) > 0) {
    problems.push(`${PROJECT}:cpuRequest = "${c.cpuRequest}": must not exceed cpuLimit "${c.cpuLimit}" (the API server rejects the StatefulSet)`);
  }
  if (b.maxFileStore <= 0) problems.push(`${PROJECT}:maxFileStore: must be above zero`);
  if (c.environment === "prod" && c.replicas !== 3 && c.replicas !== 5) {
    problems.push(`${PROJECT}:replicas = ${c.replicas}: prod needs 3 or 5 servers so a stream survives a node loss`);
  }
  if (c.environment === "prod" && c.tls === "off") {
    problems.push(`${PROJECT}:tls = "off": prod must encrypt client and route connections; set it to "cert-manager" or "secret"`);
  }
  if (c.environment === "prod" && !c.protect) {
    problems.push(`${PROJECT}:protect = false: prod must protect the StatefulSet and streams; set it to true`);
  }
  for (const ns of c.clientNamespaces) {
    if (ns === c.namespace) {
      problems.push(`${PROJECT}:clientNamespaces: "${ns}" is the NATS namespace itself; list only client namespaces`);
    }
  }
  return problems;
}

/**
 * The server version an image tag names ("nats:2.15.3-alpine" -> "2.15.3"); undefined for a digest or a tag
 * without a version, which cannot be compared with a local binary.
 */
export function imageTagVersion(image: string): string | undefined {
  return /:v?(\d+\.\d+\.\d+)(?:-[A-Za-z0-9._-]+)?$/.exec(image)?.[1];
}
