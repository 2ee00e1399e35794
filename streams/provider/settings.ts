// What both providers share: the settings configure() builds from the stack config, the diff shape, the
// preview's unknown value, the adoption messages, and the adapter that turns an ops table into the
// ResourceProvider the SDK serializes.
//
// Pulumi rules these files follow (NOTES.md "Pulumi dynamic providers"):
// - inputs are the readable, normalised spec; outputs are every input plus `created`, nothing that moves
//   (message counts would make every refresh report drift);
// - diff/update get the OLD OUTPUTS; diff compares only the managed fields, after normalising;
// - no secret is captured: connection settings arrive through configure() from the stack config;
// - nothing here may hold a zod schema or a class instance at module level (the closure is serialized).

import type * as pulumi from "@pulumi/pulumi";
import type { ConnectionSettings } from "./client";

/** What the provider needs besides the resource's inputs; built from stack config in configure(). */
export interface ProviderSettings {
  readonly connection: ConnectionSettings;
  /** Streams that may be deleted or replaced although they hold messages (`fluo-queue:allowDestroy`). */
  readonly allowDestroy: readonly string[];
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

export function checkWith<T extends object>(news: T, normalise: (n: T) => T): pulumi.dynamic.CheckResult<T> {
  // In preview, inputs computed from other resources arrive as UNKNOWN: pass them through untouched.
  if (hasUnknown(news)) return { inputs: news };
  try {
    return { inputs: normalise(news) };
  } catch (err) {
    return { failures: [{ property: "", reason: err instanceof Error ? err.message : String(err) }] };
  }
}
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


/** Reply prefix of fluo-provisioner (infra/users.ts): a literal, so the serialized provider needs no import. */
export const PROVISIONER_USER = "fluo-provisioner";
export const PROVISIONER_INBOX = "_INBOX_FLUO_PROVISIONER";

/** Stack config as configure() sees it: raw strings by `<project>:<key>`. */
export interface RawConfig {
  get(key: string): string | undefined;
}

/** Provider settings from the stack config; a missing key fails with the command that sets it. */
export function settingsFromConfig(config: RawConfig): ProviderSettings {
  const url = config.get("fluo-queue:natsUrl");
  const password = config.get("fluo-queue:provisionerPassword");
  if (!url) {
    throw new Error("fluo-queue:natsUrl is not set: streams are managed over a NATS URL (`pulumi config set fluo-queue:natsUrl nats://127.0.0.1:4222`)");
  }
  if (!password) {
    throw new Error(
      "fluo-queue:provisionerPassword is not set: the stream provider logs in as fluo-provisioner with it " +
        "(`pulumi config set --secret fluo-queue:provisionerPassword <password>`)",
    );
  }
  let allowDestroy: string[] = [];
  const raw = config.get("fluo-queue:allowDestroy");
  if (raw) {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed) || parsed.some((s) => typeof s !== "string")) {
      throw new Error(`fluo-queue:allowDestroy = ${raw}: must be a list of stream names`);
    }
    allowDestroy = parsed as string[];
  }
  return {
    connection: { servers: url.split(","), user: PROVISIONER_USER, password, inboxPrefix: PROVISIONER_INBOX },
    allowDestroy,
  };
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
  return {
    async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
      // A missing key fails the first operation that needs the server, with the command that sets it.
      try {
        state.settings = settingsFromConfig(req.config);
      } catch (err) {
        state.problem = err instanceof Error ? err.message : String(err);
      }
    },
    check: async (olds, news) => ops.check(olds, news),
    diff: async (id, olds, news) => {
      const d = await ops.diff(settings(), id, olds, news);
      return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
    },
    create: async (inputs) => ops.create(settings(), inputs),
    read: async (id, props) => ops.read(settings(), id, props),
    update: async (id, olds, news) => ops.update(settings(), id, olds, news),
    delete: async (id, props) => ops.delete(settings(), id, props),
  };
}

