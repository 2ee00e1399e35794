// The whole stack config (the `fluo-queue:*` keys of Pulumi.<stack>.yaml), validated once.
// Both the Pulumi program and the CLI hand the raw key/value map to `parseStackConfig`; nothing else reads
// config. A bad value fails here, before any resource is registered, with the key, the value and the fix.

import { z } from "zod";
import { formatDuration, parseDuration, parseSize, sizeProblem, SIZE_HELP } from "../lib/units";
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
import { SALT_KEY_BYTES } from "./passwordHash";

export const PROJECT = "fluo-queue";

/** Keys read as Pulumi secrets by the program (never part of the rendered model). */
export const SECRET_KEYS = [
  "kubeconfig",
  "bffPassword",
  "backendPassword",
  "workersPassword",
  "frontendPassword",
  "provisionerPassword",
  "backupPassword",
  "monitorPassword",
  "operatorPassword",
  "routePassword",
  // The password a standby region's leafnode presents to its primary (both stacks of a region pair set the same).
  "leafPassword",
  "bcryptSaltKey",
  // NKEY seeds ("SU..."), read with fluo-queue:authentication nkey or password+nkey (infra/users.ts seedKey).
  "bffSeed",
  "backendSeed",
  "workersSeed",
  "frontendSeed",
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
const PASSWORD_LOGIN_KEYS: readonly SecretKey[] = SECRET_KEYS.filter(
  (k) => (k.endsWith("Password") && k !== "routePassword" && k !== "leafPassword") || k === "bcryptSaltKey",
);

/** Object-valued keys: Pulumi.yaml's typed `config:` block has no object type, so they are documented only. */
export const UNTYPED_KEYS = ["streamOverrides"] as const;

/**
 * Sizes become plain byte counts in nats.conf and Kubernetes objects: above 2^53 bytes (8 PiB) a JavaScript number
 * no longer holds them exactly, and past 2^63-1 nats-server refuses the integer ("out of the range").
 */
const MAX_SIZE_HELP = "at most 8PiB (2^53 bytes)";

const size = (what: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = sizeProblem(v);
    if (problem === "syntax") ctx.addIssue({ code: "custom", message: `${what} must be ${SIZE_HELP}` });
    else if (problem === "too large") ctx.addIssue({ code: "custom", message: `too large: ${what} must be ${MAX_SIZE_HELP}` });
  });

// Values that land in a Kubernetes object (PVC size, container memory) must be spelled as Kubernetes spells
// quantities: the loose size syntax would render and then have the StatefulSet rejected by the API server.
const quantity = z.string().superRefine((v, ctx) => {
  if (isKubernetesByteQuantity(v)) {
    if (parseSize(v) === undefined) ctx.addIssue({ code: "custom", message: `too large: must be ${MAX_SIZE_HELP} (no volume or node has more)` });
    return;
  }
  const spelling = kubernetesQuantitySpelling(v);
  ctx.addIssue({
    code: "custom",
    message: `not a Kubernetes quantity (the API server would reject the StatefulSet)${spelling ? `; write "${spelling}"` : ""}. Allowed: ${QUANTITY_HELP}`,
  });
});

// CPU amounts go into the same container resources; Kubernetes takes more spellings than bytes (m, exponents) and
// some that no node can schedule (a binary suffix, mega): lib/kubernetesQuantity.ts says which and why.
/** More cores than any node offers: the scheduler would leave every pod Pending. */
export const MAX_CPU_CORES = 1024;

const cpu = z.string().superRefine((v, ctx) => {
  const problem = cpuQuantityProblem(v);
  if (!problem) {
    const q = cpuQuantity(v);
    if (q && compareQuantities(q, cpuQuantity(String(MAX_CPU_CORES))!) > 0) {
      ctx.addIssue({ code: "custom", message: `more than ${MAX_CPU_CORES} cores, which no node has (the pods would stay Pending). Allowed: ${CPU_QUANTITY_HELP}` });
    }
    return;
  }
  ctx.addIssue({
    code: "custom",
    message: `${problem.reason}${problem.spelling ? `; write "${problem.spelling}"` : ""}. Allowed: ${CPU_QUANTITY_HELP}`,
  });
});

// Image references must name a version: a floating tag makes two `pulumi up` runs deploy different servers.
const image = z
  .string()
  .regex(/^[a-z0-9.\-/:_]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/, {
    message: 'must be "<repository>:<tag>", "<repository>:<tag>@sha256:<digest>" or "<repository>@sha256:<digest>"',
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

/**
 * A Go duration (what nats-server reads) between `min` and `max`: "1m30s", "500ms"; no days, which Go does not read.
 */
const durationBetween = (min: string, max: string, why: string) => {
  const [lo, hi] = [parseDuration(min)!, parseDuration(max)!];
  return z.string().superRefine((v, ctx) => {
    const nanos = /^(\d+(ms|s|m|h))+$/.test(v) ? parseDuration(v) : undefined;
    if (nanos === undefined) ctx.addIssue({ code: "custom", message: `must be a duration from ${min} to ${max} such as "30s", "2m" or "1m30s"` });
    else if (nanos < lo || nanos > hi) ctx.addIssue({ code: "custom", message: `must be from ${min} to ${max} (${why}); it is ${formatDuration(nanos)}` });
  });
};

/** A region's name, also its JetStream domain and a subject token ($JS.<region>.API). */
const regionName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, { message: "must be lower case letters, digits and '-', starting with a letter, at most 31" });

/** A runbook link that a browser opens: an http(s) URL or a path relative to where the alerts are read. */
const runbookUrl = z.string().superRefine((v, ctx) => {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(v)?.[1]?.toLowerCase();
  if (/[\s#]/.test(v)) ctx.addIssue({ code: "custom", message: "must be a URL without spaces or '#' (alerts append #runbook-<alert>)" });
  else if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
    ctx.addIssue({ code: "custom", message: `must be an http(s) URL or a relative path, not a ${scheme}: link (it lands in alert annotations and dashboard links)` });
  } else if (scheme !== undefined && !/^https?:\/\/[^/]+/i.test(v)) ctx.addIssue({ code: "custom", message: "must name a host after http(s)://" });
});

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
    // A change of storageSize or storageClass replaces the StatefulSet (an outage, infra/storageGuard.ts): refused
    // in preview unless this is true for the run that makes it.
    allowStorageChange: z.boolean().default(false),
    cpuRequest: cpu.default("100m"),
    cpuLimit: cpu.optional(),
    memoryRequest: quantity.default("2Gi"),
    memoryLimit: quantity.default("2Gi"),
    clientNamespaces: z.array(k8sName).default([]),
    monitoringNamespace: k8sName.default("monitoring"),
    requireHostSpread: z.boolean().default(true),
    zoneSpread: z.boolean().default(false),
    protect: z.boolean().default(false),
    // nats-server refuses less than 30 s at start (every server exits); each pod's stop waits this long.
    lameDuckDuration: durationBetween("30s", "1h", "nats-server refuses less than 30s; a pod's stop waits this long").default("30s"),
    prometheusOperator: z.boolean().default(true),
    grafanaNamespace: k8sName.default("monitoring"),
    podMonitorLabels: z.array(labelPair).default(["release=kube-prometheus-stack"]),
    // Alerts link to `<runbookBaseUrl>#runbook-<alert>`: the README's runbook sections.
    runbookBaseUrl: runbookUrl.default("README.md"),
    // TLS for clients and routes: certificates from cert-manager (Issuer/Certificate objects), or a
    // kubernetes.io/tls Secret with ca.crt that the operator provides (clusters without cert-manager).
    tls: z.enum(["off", "cert-manager", "secret"]).default("off"),
    tlsSecretName: k8sName.default("nats-tls"),
    // With tls cert-manager: where the CA's private key lives. Unset, in the NATS namespace (an Issuer there), so
    // whoever may read Secrets in it can sign certificates that servers and clients trust. Set to cert-manager's
    // cluster resource namespace (usually "cert-manager"), the CA and a ClusterIssuer live there instead, and the
    // NATS namespace holds only the servers' own certificate. Changing it makes a new CA (clients must trust it).
    tlsCaNamespace: k8sName.optional(),
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
    natsTimeout: durationBetween("1s", "10m", "the time budget of one stream operation, retries included").default("20s"),
    // Two regions (docs/regions.md): this stack's region, also its JetStream domain; unset = one region, as before.
    region: regionName.optional(),
    // primary: its streams take the publishes. standby: the catalog's replicated streams are mirrors of the
    // peer's, and its leafnode connects to the peer's. Promotion (failover) is setting it to primary.
    regionRole: z.enum(["primary", "standby"], { message: "must be primary or standby" }).default("primary"),
    peerRegion: regionName.optional(),
    // A standby's way to its primary: the primary's leafnode URLs ("nats-leaf://host:7422", TLS with tls on).
    peerLeafUrls: z.array(z.string().regex(/^nats-leaf:\/\/[^\s/@]+:\d+$/, { message: 'must be "nats-leaf://<host>:<port>" (no credentials: they come from leafPassword)' })).default([]),
    // How the peer reaches this region's leafnode listener (a Service of this type, port 7422), and from where.
    leafServiceType: z.enum(["ClusterIP", "NodePort", "LoadBalancer"], { message: "must be ClusterIP, NodePort or LoadBalancer" }).default("ClusterIP"),
    leafSourceCidrs: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, { message: 'must be an IPv4 CIDR such as "10.0.0.0/8"' })).default(["0.0.0.0/0"]),
    // The peer's CA (a Secret with ca.crt in this namespace), when the two regions' certificates come from two CAs.
    peerCaSecretName: k8sName.optional(),
    // The host names the peer dials for this region's leafnode listener (the hosts of its peerLeafUrls): with TLS
    // the peer checks this region's certificate against them, so cert-manager puts them in the certificate.
    leafHostnames: z
      .array(z.string().regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: "must be a DNS name in lower case (a leading *. allowed)" }))
      .default([]),
    // Browsers (docs/websocket.md): the server's WebSocket listener, for fluo-frontend only.
    websocket: z.boolean().default(false),
    websocketPort: z.number().int().min(1024, { message: "must be a port from 1024 to 65535 (the pods run as non-root)" }).max(65535, { message: "must be a port from 1024 to 65535" }).default(8443),
    // Page origins the server accepts a WebSocket upgrade from; a page from any other origin cannot connect.
    websocketAllowedOrigins: z.array(z.string().regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, { message: 'must be a page origin "https://<host>[:<port>]" (scheme, host, optional port; no path or trailing "/")' })).default([]),
    // Plain ws:// (dev, or TLS ended by an ingress in front of the server); refused in prod.
    websocketNoTls: z.boolean().default(false),
    // Namespaces whose pods may open the WebSocket port (the ingress controller's): the NetworkPolicy admits no other.
    websocketNamespaces: z.array(k8sName).default([]),
    // Browser connections at once, all tabs together (fluo-frontend's account max_connections).
    websocketMaxConnections: z.number().int().min(1, { message: "must be at least 1" }).max(1_000_000, { message: "must be at most 1000000" }).default(1000),
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
    // One line, whatever the count: one problem per key, each naming the key, the value and what is allowed.
    super(problems.length === 1 ? `invalid stack config: ${problems[0]}` : `invalid stack config (${problems.length} problems): ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/**
 * What the stream provider needs to log in, when `natsUrl` says it manages streams: the provisioner's credential
 * of the authentication mode, from stack config (a generated one lives only in state, which the provider cannot
 * read). The one copy of this guidance: the program, the CLI and the provider all refuse through it.
 */
export function provisionerCredentialKey(mode: Authentication): SecretKey {
  return mode === "nkey" ? "provisionerSeed" : "provisionerPassword";
}

export function provisionerCredentialMissing(mode: Authentication): string {
  const key = provisionerCredentialKey(mode);
  const set =
    key === "provisionerSeed"
      ? `\`nats auth nkey gen user > provisioner.seed && pulumi config set --secret ${PROJECT}:provisionerSeed "$(cat provisioner.seed)" && rm provisioner.seed\``
      : `\`pulumi config set --secret ${PROJECT}:provisionerPassword "$(openssl rand -hex 24)"\``;
  return (
    `${PROJECT}:${key} is not set, but ${PROJECT}:natsUrl is, so \`pulumi up\` manages streams as fluo-provisioner` +
    `${mode === "nkey" ? ` with its NKEY seed (${PROJECT}:authentication = "nkey")` : " with its password"}, which the stream ` +
    `provider reads from the stack config (a generated one lives only in state, where it cannot see it): set it with ${set}`
  );
}

const show = (value: unknown): string => (value === undefined ? "(unset)" : JSON.stringify(value));

/** The known key a typo most likely meant: the same letters ignoring case, or one edit away. */
function closestKey(key: string): string | undefined {
  const known = [...Object.keys(stackConfigSchema.shape), ...SECRET_KEYS];
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const next = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = row[j];
        row[j] = next;
      }
    }
    return row[b.length];
  };
  return known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => distance(k, key) <= 2);
}

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
      const near = closestKey(key);
      problems.push(`${PROJECT}:${key} = ${show(value)}: unknown key${near ? ` (did you mean ${PROJECT}:${near}?)` : ""}. Known keys: ${known}`);
      continue;
    }
    plain[key] = coerce(key, value);
  }
  const parsed = stackConfigSchema.safeParse(plain);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = issue.path.map(String).join(".");
      // One problem per key: a value that breaks two rules is one mistake.
      if (seen.has(key)) continue;
      seen.add(key);
      const top = String(issue.path[0] ?? "");
      // The value as written (a string the coercion read as JSON, "1e3", is shown as "1e3", not 1000).
      problems.push(`${PROJECT}:${key} = ${show(raw[top] === undefined ? undefined : issue.path.length > 1 ? plain[top] : raw[top])}: ${issue.message}`);
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
  problems.push(...crossFieldProblems(c, bytes), ...seedProblems(c, raw), ...unusedPasswordProblems(c, raw), ...saltKeyProblems(c, raw));
  if (c.natsUrl !== undefined && raw[provisionerCredentialKey(c.authentication)] === undefined) problems.push(provisionerCredentialMissing(c.authentication));
  if (c.region !== undefined && raw.leafPassword === undefined) {
    problems.push(
      `${PROJECT}:leafPassword is not set, but ${PROJECT}:region is: the two regions' stacks must share it (the standby presents it to the primary); ` +
        `set the same value in both with \`pulumi config set --secret ${PROJECT}:leafPassword "$(openssl rand -hex 24)"\``,
    );
  }
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

/**
 * The bcrypt salts' key (infra/passwordHash.ts) must be SALT_KEY_BYTES random bytes in base64: a short key makes
 * every salt guessable. Checked where it is readable (plain text in a file, decrypted from the engine).
 */
function saltKeyProblems(c: ParsedKeys, raw: Readonly<Record<string, unknown>>): string[] {
  const value = raw.bcryptSaltKey;
  if (typeof value !== "string" || !usesPasswords(c.authentication)) return [];
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) ? Buffer.from(value.trim(), "base64").length : 0;
  if (bytes === SALT_KEY_BYTES) return [];
  return [
    `${PROJECT}:bcryptSaltKey (value not shown: a secret) is ${bytes === 0 ? "not base64" : `${bytes} bytes`}: it must be ` +
      `${SALT_KEY_BYTES} random bytes in base64 (\`pulumi config set --secret ${PROJECT}:bcryptSaltKey "$(openssl rand -base64 ${SALT_KEY_BYTES})"\`)`,
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
  // Only one line per mistake: a memoryLimit already too small says so once, not also against the request.
  if (b.memoryRequest > b.memoryLimit && b.memoryLimit >= neededMemory) {
    problems.push(
      `${PROJECT}:memoryRequest = "${c.memoryRequest}": must not exceed memoryLimit "${c.memoryLimit}"`,
    );
  }
  const cpuRequest = cpuQuantity(c.cpuRequest);
  const cpuLimit = c.cpuLimit === undefined ? undefined : cpuQuantity(c.cpuLimit);
  if (cpuRequest && cpuLimit && compareQuantities(cpuRequest, cpuLimit) > 0) {
    problems.push(`${PROJECT}:cpuRequest = "${c.cpuRequest}": must not exceed cpuLimit "${c.cpuLimit}" (the API server rejects the StatefulSet)`);
  }
  if (b.maxFileStore <= 0) problems.push(`${PROJECT}:maxFileStore = ${show(c.maxFileStore)}: must be above zero (JetStream stores streams on file)`);
  if (c.environment === "prod" && c.replicas !== 3 && c.replicas !== 5) {
    problems.push(`${PROJECT}:replicas = ${c.replicas}: prod needs 3 or 5 servers so a stream survives a node loss`);
  }
  if (c.environment === "prod" && c.tls === "off") {
    problems.push(`${PROJECT}:tls = "off": prod must encrypt client and route connections; set it to "cert-manager" or "secret"`);
  }
  if (c.environment === "prod" && !c.protect) {
    problems.push(`${PROJECT}:protect = false: prod must protect the StatefulSet and streams; set it to true`);
  }
  if (c.tlsCaNamespace !== undefined && c.tls !== "cert-manager") {
    problems.push(`${PROJECT}:tlsCaNamespace = ${show(c.tlsCaNamespace)}: only read with tls "cert-manager" (tls is "${c.tls}"); remove it (\`pulumi config rm ${PROJECT}:tlsCaNamespace\`)`);
  } else if (c.tlsCaNamespace === c.namespace) {
    problems.push(`${PROJECT}:tlsCaNamespace = ${show(c.tlsCaNamespace)}: is the NATS namespace itself; name cert-manager's namespace, or remove the key`);
  }
  problems.push(...regionProblems(c), ...websocketProblems(c));
  for (const ns of c.clientNamespaces) {
    if (ns === c.namespace) {
      problems.push(`${PROJECT}:clientNamespaces: "${ns}" is the NATS namespace itself; list only client namespaces`);
    }
  }
  return problems;
}

/** The listener's other ports: the WebSocket port must not take one of them. */
const TAKEN_PORTS: Readonly<Record<number, string>> = { 4222: "client", 6222: "cluster", 8222: "monitor", 7777: "metrics", 7422: "leafnode" };

/** The WebSocket listener: origins and a way in are required, TLS unless the stack may go without, nothing stray. */
function websocketProblems(c: ParsedKeys): string[] {
  const set = `\`pulumi config set ${PROJECT}:websocket true\``;
  if (!c.websocket) {
    const stray = (["websocketNoTls"] as const).find((k) => c[k]) ?? (["websocketAllowedOrigins", "websocketNamespaces"] as const).find((k) => c[k].length > 0);
    return stray ? [`${PROJECT}:${stray} = ${show(c[stray])} is set, but ${PROJECT}:websocket is false: turn the listener on (${set}) or remove it (\`pulumi config rm ${PROJECT}:${stray}\`)`] : [];
  }
  const problems: string[] = [];
  if (c.environment === "prod" && c.websocketNoTls) {
    problems.push(`${PROJECT}:websocketNoTls = true: prod must encrypt browser connections; remove it (the listener then uses the cluster's certificates, tls "${c.tls}")`);
  } else if (c.tls === "off" && !c.websocketNoTls) {
    problems.push(`${PROJECT}:websocketNoTls = false: tls is "off", so the WebSocket listener has no certificate; set tls to "cert-manager" or "secret", or websocketNoTls to true (not in prod)`);
  }
  if (c.websocketAllowedOrigins.length === 0) {
    problems.push(
      `${PROJECT}:websocketAllowedOrigins = []: an empty list lets a page from any origin connect; list the origins of the pages that show signals ` +
        `(\`pulumi config set --path '${PROJECT}:websocketAllowedOrigins[0]' https://app.example.com\`)`,
    );
  }
  const plain = c.websocketAllowedOrigins.find((o) => o.startsWith("http://"));
  if (c.environment === "prod" && plain !== undefined) {
    problems.push(`${PROJECT}:websocketAllowedOrigins: ${show(plain)} is a plain http:// origin; prod pages are https:// (a plain page's credential can be read on the way)`);
  }
  if (c.websocketNamespaces.length === 0) {
    problems.push(`${PROJECT}:websocketNamespaces = []: the NetworkPolicy would admit no one to the WebSocket port; name the namespace of the ingress controller that serves browsers (e.g. ["ingress-nginx"])`);
  }
  const taken = TAKEN_PORTS[c.websocketPort];
  if (taken !== undefined) problems.push(`${PROJECT}:websocketPort = ${c.websocketPort}: is the ${taken} port; pick another (default 8443)`);
  return problems;
}

/** Two regions: a region names its peer; a standby knows how to reach it; the keys mean nothing without a region. */
function regionProblems(c: ParsedKeys): string[] {
  const rm = (key: string) => `\`pulumi config rm ${PROJECT}:${key}\``;
  if (c.region === undefined) {
    const stray =
      (["peerRegion", "peerCaSecretName"] as const).find((k) => c[k] !== undefined) ??
      (c.peerLeafUrls.length > 0 ? "peerLeafUrls" : c.leafHostnames.length > 0 ? "leafHostnames" : c.regionRole !== "primary" ? "regionRole" : undefined);
    return stray ? [`${PROJECT}:${stray} = ${show(c[stray])} is set, but ${PROJECT}:region is not: set the region (\`pulumi config set ${PROJECT}:region <name>\`) or remove it (${rm(stray)})`] : [];
  }
  if (c.peerRegion === undefined) return [`${PROJECT}:region = ${show(c.region)}: needs ${PROJECT}:peerRegion, the other region's name (its JetStream domain)`];
  if (c.peerRegion === c.region) return [`${PROJECT}:peerRegion = ${show(c.peerRegion)}: is this region itself; name the other region`];
  if (c.regionRole === "standby" && c.peerLeafUrls.length === 0) {
    return [`${PROJECT}:regionRole = "standby": needs ${PROJECT}:peerLeafUrls, the primary's leafnode URLs (\`pulumi config set --path '${PROJECT}:peerLeafUrls[0]' nats-leaf://<host>:7422\`)`];
  }
  if (c.regionRole === "primary" && c.peerLeafUrls.length > 0) {
    return [`${PROJECT}:peerLeafUrls is set, but ${PROJECT}:regionRole = "primary": a primary does not connect to its peer (the standby connects to it); remove it (${rm("peerLeafUrls")})`];
  }
  // Without its names in the certificate the peer's leafnode fails the TLS check on every attempt (with tls
  // "secret" the operator's certificate must hold them; nothing here can add them).
  if (c.tls === "cert-manager" && c.leafHostnames.length === 0) {
    return [
      `${PROJECT}:leafHostnames is empty, but ${PROJECT}:region = ${show(c.region)} has tls "cert-manager": list the host names the peer region dials for this region's leafnode (the hosts of its peerLeafUrls), e.g. \`pulumi config set --path '${PROJECT}:leafHostnames[0]' nats-leaf.${c.region}.example.com\`; the certificate must name them or the peer's TLS check fails`,
    ];
  }
  // A leafnode between two clusters of one name is dropped ("remote leafnode has same cluster name", retried
  // every 30 s, forever), so the pair's names must differ. A standby's name ends with its region; a primary keeps
  // the name it has (renaming a running cluster splits its routes) as long as it cannot be the standby's.
  const suffix = `-${c.regionRole === "standby" ? c.region : c.peerRegion}`;
  if (c.regionRole === "standby" && !c.clusterName.endsWith(suffix)) {
    return [`${PROJECT}:clusterName = ${show(c.clusterName)}: a standby's cluster name must end with -${c.region} (e.g. ${show(`${c.clusterName}${suffix}`)}), so it differs from its primary's; the leafnode refuses two clusters of one name`];
  }
  if (c.regionRole === "primary" && c.clusterName.endsWith(suffix)) {
    return [`${PROJECT}:clusterName = ${show(c.clusterName)}: ends with -${c.peerRegion}, the name its standby region ${show(c.peerRegion)} must have; the leafnode refuses two clusters of one name, so name this one differently`];
  }
  return [];
}

/**
 * The server version an image tag names ("nats:2.15.3-alpine" -> "2.15.3"); undefined for a digest or a tag
 * without a version, which cannot be compared with a local binary.
 */
export function imageTagVersion(image: string): string | undefined {
  // "nats:2.15.3-alpine@sha256:<digest>" pins the bytes and still names the version in its tag.
  return /:v?(\d+\.\d+\.\d+)(?:-[A-Za-z0-9._-]+)?$/.exec(image.replace(/@sha256:[a-f0-9]{64}$/, ""))?.[1];
}
