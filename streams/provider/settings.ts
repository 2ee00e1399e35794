// What both providers share: the settings configure() builds from the stack config, the diff shape, the
// preview's unknown value, the adoption messages, and the adapter that turns an ops table into the
// ResourceProvider the SDK serializes.
//
// Pulumi rules these files follow (NOTES.md "Pulumi dynamic providers"):
// - inputs are the readable, normalised spec; outputs are every input plus `created`, nothing that moves
//   (message counts would make every refresh report drift);
// - diff/update get the OLD OUTPUTS; diff compares only the managed fields, after normalising;
// - no secret is captured: connection settings arrive through configure() from the stack config.

import type * as pulumi from "@pulumi/pulumi";
import { isNatsUnavailable, setRetryTotal, type ConnectionSettings } from "./client";
import { withoutHostTrace } from "./hostErrors";
import { parseStackConfig, PROJECT, provisionerCredentialKey, SECRET_KEYS, stackConfigSchema } from "../../infra/stackConfig";
import { inboxPrefixOf, type UserName } from "../../infra/users";
import { parseDuration } from "../../lib/units";

/** What the provider needs besides the resource's inputs; built from stack config in configure(). */
export interface ProviderSettings {
  readonly connection: ConnectionSettings;
  /**
   * Streams whose messages this run may lose (`fluo-queue:allowDestroy`): by delete, replace, an in-place update
   * that lowers a limit below what the stream holds, or replacing/deleting a consumer that holds messages.
   */
  readonly allowDestroy: readonly string[];
  /** Time budget of one operation against NATS, retries included (`fluo-queue:natsTimeout`, default 20 s). */
  readonly timeoutMs: number;
}

export interface Diff {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
  /** Managed fields that differ (updates and replaces), for reports; the engine ignores it. */
  readonly changed: string[];
}

/** The value the engine passes for inputs not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function hasUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(hasUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasUnknown);
  return false;
}

/** Drops undefined members: protobuf Structs cannot carry them, and they would read as a change. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** One check failure, naming the input property it is about (the engine shows it next to that property). */
export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/**
 * Check: every problem of the known values, each naming its property; then the normalised inputs. Values not
 * known yet (preview) are passed through untouched and checked when they are known.
 */
export function checkWith<T extends object>(
  news: T,
  problems: (n: Readonly<Record<string, unknown>>) => CheckFailure[],
  normalise: (n: T) => T,
): pulumi.dynamic.CheckResult<T> {
  const failures = problems(news as Readonly<Record<string, unknown>>);
  if (failures.length > 0) return { failures };
  if (hasUnknown(news)) return { inputs: news };
  try {
    return { inputs: normalise(news) };
  } catch (err) {
    return { failures: [{ property: "", reason: err instanceof Error ? err.message : String(err) }] };
  }
}

const NAME_PATTERN = /^[^\s.*>/\\]+$/;

/** Checks shared by both kinds of resource, skipping values not known yet. */
export const validate = {
  /** Stream and durable names: no whitespace, ".", "*", ">" or path separators (the server's rule). */
  name(failures: CheckFailure[], property: string, value: unknown): void {
    if (value === UNKNOWN) return;
    if (typeof value !== "string" || !NAME_PATTERN.test(value) || value.length > 255) {
      failures.push({ property, reason: `${property} = ${JSON.stringify(value)}: must be a name without whitespace, ".", "*", ">" or "/"` });
    }
  },
  oneOf(failures: CheckFailure[], property: string, value: unknown, allowed: readonly string[], optional = false): void {
    if (value === UNKNOWN || (optional && value === undefined)) return;
    if (typeof value !== "string" || !allowed.includes(value)) {
      failures.push({ property, reason: `${property} = ${JSON.stringify(value)}: must be one of ${allowed.join(", ")}` });
    }
  },
  integer(failures: CheckFailure[], property: string, value: unknown, min: number, max: number, optional = false): void {
    if (value === UNKNOWN || (optional && value === undefined)) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      failures.push({ property, reason: `${property} = ${JSON.stringify(value)}: must be a whole number from ${min} to ${max}` });
    }
  },
  subject(failures: CheckFailure[], property: string, value: unknown): void {
    if (value === UNKNOWN) return;
    const tokens = typeof value === "string" ? value.split(".") : [];
    const ok = tokens.length > 0 && tokens.every((t, i) => t !== "" && !/\s/.test(t) && (t !== ">" || i === tokens.length - 1) && (t.length === 1 || !/[*>]/.test(t)));
    if (!ok) failures.push({ property, reason: `${property} = ${JSON.stringify(value)}: must be a NATS subject (dot-separated tokens, "*" or a final ">" as wildcards)` });
  },
  /** A value the field table cannot convert (a size or a duration that does not parse). */
  converts(failures: CheckFailure[], property: string, value: unknown, toApi: (v: never) => unknown): void {
    if (hasUnknown(value) || value === undefined) return;
    try {
      toApi(value as never);
    } catch (err) {
      failures.push({ property, reason: `${property} = ${JSON.stringify(value)}: ${err instanceof Error ? err.message : String(err)}` });
    }
  },
};

export function mismatch(kind: string, name: string, settings: ProviderSettings, changed: readonly string[], live: object, declared: object): string {
  const rows = changed.map(
    (k) => `  ${k}: live ${JSON.stringify((live as Record<string, unknown>)[k])}, declared ${JSON.stringify((declared as Record<string, unknown>)[k])}`,
  );
  return (
    `${kind} ${name} already exists on ${settings.connection.servers.join(",")} with different settings, so it was ` +
    `not adopted:\n${rows.join("\n")}\n` +
    `Resolve it by either declaring the live values in the catalog (then \`pulumi up\` adopts it), or changing the ` +
    `live ${kind} to the declared values (nats CLI), or, if its data may go, deleting it (\`nats ${kind} rm ${name.replace("/", " ")}\`).`
  );
}

export function unmanagedMismatch(kind: string, name: string, settings: ProviderSettings, rows: readonly string[]): string {
  const rm = kind === "consumer" ? `nats consumer rm ${name.replace("/", " ")}` : `nats stream rm ${name}`;
  return (
    `${kind} ${name} already exists on ${settings.connection.servers.join(",")} with settings this project pins ` +
    `differently, so it was not adopted (every later update would try to change them):\n  ${rows.join("\n  ")}\n` +
    `Recreate it with the pinned values, or, if its data may go, delete it (\`${rm}\`) and run again.`
  );
}


export const PROVISIONER_USER: UserName = "fluo-provisioner";
export const PROVISIONER_INBOX = inboxPrefixOf(PROVISIONER_USER);

/** Stack config as configure() sees it: raw strings by `<project>:<key>`. */
export interface RawConfig {
  get(key: string): string | undefined;
}

/**
 * Provider settings from the stack config, validated by the same parser as the program's (infra/stackConfig.ts),
 * so a value the program accepts is one the provider accepts. A problem fails the first operation with its line.
 * The provisioner logs in with its NKEY seed under authentication nkey (nats.conf then has no password for it),
 * with its password otherwise (password+nkey keeps both logins; the password serves here).
 */
export function settingsFromConfig(config: RawConfig): ProviderSettings {
  const raw: Record<string, string> = {};
  for (const key of [...Object.keys(stackConfigSchema.shape), ...SECRET_KEYS]) {
    const value = config.get(`${PROJECT}:${key}`);
    if (value !== undefined) raw[key] = value;
  }
  const c = parseStackConfig("", raw);
  if (!c.natsUrl) {
    throw new Error(`${PROJECT}:natsUrl is not set: streams are managed over a NATS URL (\`pulumi config set ${PROJECT}:natsUrl nats://127.0.0.1:4222\`)`);
  }
  const credential = raw[provisionerCredentialKey(c.authentication)];
  const login = provisionerCredentialKey(c.authentication) === "provisionerSeed" ? { seed: credential.trim() } : { password: credential };
  return {
    connection: { servers: c.natsUrl.split(","), user: PROVISIONER_USER, inboxPrefix: PROVISIONER_INBOX, ...login },
    allowDestroy: c.allowDestroy,
    timeoutMs: Number(parseDuration(c.natsTimeout)) / 1e6,
  };
}

/** A NATS outage rephrased for the operator: which servers, and what to check first. */
export function explainUnavailable(err: unknown, settings: ProviderSettings): unknown {
  if (!isNatsUnavailable(err)) return err;
  const seconds = Math.round(settings.timeoutMs / 1000);
  return new Error(
    `${err.message}. Servers: ${settings.connection.servers.join(",")}. They may be down, frozen or without a ` +
      `JetStream leader: check the pods (\`kubectl -n <namespace> get pods\`, /healthz on the monitor port) and that ` +
      `the port-forward still runs; if leader elections take longer here, raise fluo-queue:natsTimeout (now ${seconds}s).`,
  );
}

export type Ops<I, O> = {
  check(olds: I | undefined, news: I): pulumi.dynamic.CheckResult<I>;
  diff(settings: ProviderSettings, id: string, olds: O, news: I): Promise<Diff>;
  create(settings: ProviderSettings, inputs: I): Promise<{ id: string; outs: O }>;
  read(settings: ProviderSettings, id: string, props: O | undefined): Promise<{ id?: string; props?: O }>;
  update(settings: ProviderSettings, id: string, olds: O, news: I): Promise<{ outs: O }>;
  delete(settings: ProviderSettings, id: string, props: O): Promise<void>;
};

/**
 * A dynamic ResourceProvider over `ops`. Settings live in a holder object filled by configure(), which the
 * provider host calls once per process before any other method; nothing secret exists at serialization time.
 */
export function dynamicProvider<I, O>(ops: Ops<I, O>): pulumi.dynamic.ResourceProvider<I, O> {
  const state: { settings?: ProviderSettings; problem?: string } = {};
  const settings = (): ProviderSettings => {
    if (state.settings) return state.settings;
    throw new Error(state.problem ?? "the fluo-queue stream provider was not configured (no stack config received)");
  };
  const explained = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw explainUnavailable(err, settings());
    }
  };
  return {
    async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
      // A missing key fails the first operation that needs the server, with the command that sets it.
      try {
        state.settings = settingsFromConfig(req.config);
        setRetryTotal(state.settings.timeoutMs);
      } catch (err) {
        state.problem = err instanceof Error ? err.message : String(err);
      }
    },
    // The host prints check's and diff's errors a second time with their trace (hostErrors.ts): not refusals.
    check: async (olds, news) => {
      try {
        return await ops.check(olds, news);
      } catch (err) {
        throw withoutHostTrace(err);
      }
    },
    diff: async (id, olds, news) => {
      try {
        const d = await explained(() => ops.diff(settings(), id, olds, news));
        return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
      } catch (err) {
        throw withoutHostTrace(err);
      }
    },
    create: async (inputs) => explained(() => ops.create(settings(), inputs)),
    read: async (id, props) => explained(() => ops.read(settings(), id, props)),
    update: async (id, olds, news) => explained(() => ops.update(settings(), id, olds, news)),
    delete: async (id, props) => explained(() => ops.delete(settings(), id, props)),
  };
}

