// The Stream and Consumer dynamic providers: check, diff, create, read, update, delete against a live
// JetStream, driven by the one field table of streams/fields.ts. The same operations serve `pulumi up`
// (through the provider objects at the bottom), `npm run local` (streams/apply.ts) and the tests.
//
// Pulumi rules this file follows (NOTES.md "Pulumi dynamic providers"):
// - inputs are the readable, normalised spec; outputs are every input plus `created`, nothing that moves
//   (message counts would make every refresh report drift);
// - diff/update get the OLD OUTPUTS; diff compares only the managed fields, after normalising;
// - no secret is captured: connection settings arrive through configure() from the stack config;
// - nothing here may hold a zod schema or a class instance at module level (the closure is serialized).

import type * as pulumi from "@pulumi/pulumi";
import type { ConsumerConfig, ConsumerInfo, JetStreamManager, StreamInfo } from "nats";
import type { ConsumerSpec, StreamSpec } from "./spec";
import {
  CONSUMER_FIELDS,
  CONSUMER_FIXED,
  consumerApiConfig,
  consumerSpecFromApi,
  fieldChanges,
  fixedFieldDifferences,
  normalizeConsumer,
  normalizeStream,
  STREAM_FIELDS,
  STREAM_FIXED,
  streamApiConfig,
  streamSpecFromApi,
} from "./fields";
import {
  CONSUMER_NOT_FOUND,
  jetStreamManager,
  STREAM_NOT_FOUND,
  unlessNotFound,
  withRetry,
  type ConnectionSettings,
} from "./jetstreamClient";

/** What the provider needs besides the resource's inputs; built from stack config in configure(). */
export interface ProviderSettings {
  readonly connection: ConnectionSettings;
  /** Streams that may be deleted or replaced although they hold messages (`fluo-queue:allowDestroy`). */
  readonly allowDestroy: readonly string[];
}

/** A stream's inputs: its spec without `publishers`, which shape permissions (nats.conf), not the stream. */
export type StreamInputs = Omit<StreamSpec, "publishers">;
export type StreamOutputs = StreamInputs & { readonly created: string };
/** A consumer's inputs: its spec without the `consumer` user, which shapes permissions only. */
export type ConsumerInputs = Omit<ConsumerSpec, "consumer">;
export type ConsumerOutputs = ConsumerInputs & { readonly created: string };

export interface Diff {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
  /** Managed fields that differ (updates and replaces), for reports; the engine ignores it. */
  readonly changed: string[];
}

/** The value the engine passes for inputs not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function hasUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(hasUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasUnknown);
  return false;
}

/** Drops undefined members: protobuf Structs cannot carry them, and they would read as a change. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// The field tables are typed over the full specs; the user fields they do not list play no part in a diff.
const asStreamSpec = (inputs: StreamInputs): StreamSpec => ({ ...inputs, publishers: [] });
const asConsumerSpec = (inputs: ConsumerInputs): ConsumerSpec => ({ ...inputs, consumer: "fluo-workers" });

const stripStream = ({ publishers: _publishers, ...rest }: StreamSpec): StreamInputs => compact(rest);
const stripConsumer = ({ consumer: _consumer, ...rest }: ConsumerSpec): ConsumerInputs => compact(rest);

/** Canonical stream inputs: the readable form with the server's defaults filled, managed fields only. */
export function streamInputs(spec: StreamInputs | StreamSpec): StreamInputs {
  const full: StreamSpec = { publishers: [], ...(spec as StreamInputs) };
  return stripStream(normalizeStream(pickStream(full)));
}

export function consumerInputs(spec: ConsumerInputs | ConsumerSpec): ConsumerInputs {
  const full: ConsumerSpec = { consumer: "fluo-workers", ...(spec as ConsumerInputs) };
  return stripConsumer(normalizeConsumer(pickConsumer(full)));
}

// Outputs carry `created` and the engine may add `__provider`: keep only the table's fields before normalising.
function pickStream(spec: StreamSpec): StreamSpec {
  const keys = new Set<string>([...STREAM_FIELDS.map((f) => f.key), "publishers"]);
  return Object.fromEntries(Object.entries(spec).filter(([k]) => keys.has(k))) as unknown as StreamSpec;
}
function pickConsumer(spec: ConsumerSpec): ConsumerSpec {
  const keys = new Set<string>([...CONSUMER_FIELDS.map((f) => f.key), "consumer"]);
  return Object.fromEntries(Object.entries(spec).filter(([k]) => keys.has(k))) as unknown as ConsumerSpec;
}

function checkWith<T extends object>(news: T, normalise: (n: T) => T): pulumi.dynamic.CheckResult<T> {
  // In preview, inputs computed from other resources arrive as UNKNOWN: pass them through untouched.
  if (hasUnknown(news)) return { inputs: news };
  try {
    return { inputs: normalise(news) };
  } catch (err) {
    return { failures: [{ property: "", reason: err instanceof Error ? err.message : String(err) }] };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Streams

export const streamId = (inputs: { name: string }): string => inputs.name;

function streamDiff(olds: StreamOutputs, news: StreamInputs): Diff {
  // Unknown inputs (preview) cannot be normalised; fieldChanges compares them as themselves, i.e. as changed.
  const { changed, replaces } = hasUnknown(news)
    ? fieldChanges(STREAM_FIELDS, asStreamSpec(streamInputs(olds)), asStreamSpec(news))
    : fieldChanges(STREAM_FIELDS, asStreamSpec(streamInputs(olds)), asStreamSpec(streamInputs(news)));
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
}

/** Refuses to destroy a stream that holds messages unless the stack config allows it for that stream. */
function guardStream(settings: ProviderSettings, info: StreamInfo, action: string): void {
  const name = info.config.name;
  const messages = info.state.messages;
  if (messages === 0 || settings.allowDestroy.includes(name)) return;
  const index = settings.allowDestroy.length;
  throw new Error(
    `refusing to ${action} stream ${name}: it holds ${messages} message(s) that would be lost. ` +
      `If losing them is intended, allow it for this stream and run again:\n` +
      `  pulumi config set --path 'fluo-queue:allowDestroy[${index}]' ${name}\n` +
      `(and remove it from fluo-queue:allowDestroy afterwards).`,
  );
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  return unlessNotFound(() => withRetry(`stream ${name} info`, () => jsm.streams.info(name)), [STREAM_NOT_FOUND]);
}

function streamOutputs(inputs: StreamInputs, info: StreamInfo): StreamOutputs {
  return { ...inputs, created: info.created };
}

/** The live stream in input shape (managed fields only, normalised). */
export function liveStreamInputs(info: StreamInfo): StreamInputs {
  return streamInputs(streamSpecFromApi(info.config, []));
}

function mismatch(kind: string, name: string, settings: ProviderSettings, changed: readonly string[], live: object, declared: object): string {
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

function unmanagedMismatch(kind: string, name: string, settings: ProviderSettings, rows: readonly string[]): string {
  const rm = kind === "consumer" ? `nats consumer rm ${name.replace("/", " ")}` : `nats stream rm ${name}`;
  return (
    `${kind} ${name} already exists on ${settings.connection.servers.join(",")} with settings this project pins ` +
    `differently, so it was not adopted (every later update would try to change them):\n  ${rows.join("\n  ")}\n` +
    `Recreate it with the pinned values, or, if its data may go, delete it (\`${rm}\`) and run again.`
  );
}

export const streamOps = {
  check(_olds: StreamInputs | undefined, news: StreamInputs): pulumi.dynamic.CheckResult<StreamInputs> {
    return checkWith(news, streamInputs);
  },

  async diff(settings: ProviderSettings, _id: string, olds: StreamOutputs, news: StreamInputs): Promise<Diff> {
    const diff = streamDiff(olds, news);
    if (diff.replaces.length > 0 && !hasUnknown(news)) {
      // Fail the preview, not halfway through `up`: a replacement deletes the stream first.
      const info = await streamInfo(await jetStreamManager(settings.connection), olds.name);
      if (info) guardStream(settings, info, `replace (${diff.replaces.join(", ")} cannot change in place)`);
    }
    return diff;
  },

  async create(settings: ProviderSettings, inputs: StreamInputs): Promise<{ id: string; outs: StreamOutputs }> {
    const declared = streamInputs(inputs);
    const jsm = await jetStreamManager(settings.connection);
    const existing = await streamInfo(jsm, declared.name);
    if (existing) {
      const live = liveStreamInputs(existing);
      const { changed } = fieldChanges(STREAM_FIELDS, asStreamSpec(live), asStreamSpec(declared));
      if (changed.length > 0) throw new Error(mismatch("stream", declared.name, settings, changed, live, declared));
      const unmanaged = fixedFieldDifferences(STREAM_FIXED, existing.config as unknown as Record<string, unknown>);
      if (unmanaged.length > 0) throw new Error(unmanagedMismatch("stream", declared.name, settings, unmanaged));
      return { id: streamId(declared), outs: streamOutputs(declared, existing) };
    }
    const config = streamApiConfig({ ...declared, publishers: [] });
    const info = await withRetry(`create stream ${declared.name}`, () => jsm.streams.add(config));
    return { id: streamId(declared), outs: streamOutputs(declared, info) };
  },

  async read(settings: ProviderSettings, id: string, props: StreamOutputs | undefined): Promise<{ id?: string; props?: StreamOutputs }> {
    const name = props?.name ?? id;
    const info = await streamInfo(await jetStreamManager(settings.connection), name);
    // Gone: an empty id tells the engine the resource no longer exists.
    if (!info) return {};
    return { id, props: streamOutputs(liveStreamInputs(info), info) };
  },

  async update(settings: ProviderSettings, _id: string, olds: StreamOutputs, news: StreamInputs): Promise<{ outs: StreamOutputs }> {
    const declared = streamInputs(news);
    const jsm = await jetStreamManager(settings.connection);
    // nats.js merges an update into the current config: send every managed field so none keeps a stale value.
    const config = streamApiConfig({ ...declared, publishers: [] });
    const info = await withRetry(`update stream ${declared.name}`, () => jsm.streams.update(olds.name, config));
    return { outs: streamOutputs(declared, info) };
  },

  async delete(settings: ProviderSettings, id: string, props: StreamOutputs): Promise<void> {
    const name = props?.name ?? id;
    const jsm = await jetStreamManager(settings.connection);
    const info = await streamInfo(jsm, name);
    if (!info) return;
    guardStream(settings, info, "delete");
    await unlessNotFound(() => withRetry(`delete stream ${name}`, () => jsm.streams.delete(name)), [STREAM_NOT_FOUND]);
  },
};

// ---------------------------------------------------------------------------------------------------------
// Consumers

export const consumerId = (inputs: { stream: string; name: string }): string => `${inputs.stream}/${inputs.name}`;

function splitConsumerId(id: string): { stream: string; name: string } {
  const [stream, name] = id.split("/", 2);
  return { stream, name };
}

async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | undefined> {
  return unlessNotFound(
    () => withRetry(`consumer ${stream}/${name} info`, () => jsm.consumers.info(stream, name)),
    [CONSUMER_NOT_FOUND, STREAM_NOT_FOUND],
  );
}

/** The live consumer in input shape (managed fields only, normalised). */
export function liveConsumerInputs(info: ConsumerInfo): ConsumerInputs {
  return consumerInputs(consumerSpecFromApi(info.stream_name, info.config, "fluo-workers"));
}

function consumerDiff(olds: ConsumerOutputs, news: ConsumerInputs): Diff {
  const { changed, replaces } = hasUnknown(news)
    ? fieldChanges(CONSUMER_FIELDS, asConsumerSpec(consumerInputs(olds)), asConsumerSpec(news))
    : fieldChanges(CONSUMER_FIELDS, asConsumerSpec(consumerInputs(olds)), asConsumerSpec(consumerInputs(news)));
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
}

/**
 * The consumer config as sent. An unset filter goes as a missing key, not "": nats.js appends a filter to the
 * create subject ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), and "" yields a trailing-dot subject that
 * no permission matches. The key stays present (undefined) so an update's merge clears an old filter.
 */
function consumerWireConfig(inputs: ConsumerInputs): ConsumerConfig {
  const config = consumerApiConfig({ ...inputs, consumer: "fluo-workers" });
  return { ...config, filter_subject: config.filter_subject || undefined };
}

export const consumerOps = {
  check(_olds: ConsumerInputs | undefined, news: ConsumerInputs): pulumi.dynamic.CheckResult<ConsumerInputs> {
    return checkWith(news, consumerInputs);
  },

  async diff(_settings: ProviderSettings, _id: string, olds: ConsumerOutputs, news: ConsumerInputs): Promise<Diff> {
    return consumerDiff(olds, news);
  },

  async create(settings: ProviderSettings, inputs: ConsumerInputs): Promise<{ id: string; outs: ConsumerOutputs }> {
    const declared = consumerInputs(inputs);
    const jsm = await jetStreamManager(settings.connection);
    const existing = await consumerInfo(jsm, declared.stream, declared.name);
    if (existing) {
      const live = liveConsumerInputs(existing);
      const { changed } = fieldChanges(CONSUMER_FIELDS, asConsumerSpec(live), asConsumerSpec(declared));
      if (changed.length > 0) {
        throw new Error(mismatch("consumer", consumerId(declared), settings, changed, live, declared));
      }
      const unmanaged = fixedFieldDifferences(CONSUMER_FIXED, existing.config as unknown as Record<string, unknown>);
      if (unmanaged.length > 0) throw new Error(unmanagedMismatch("consumer", consumerId(declared), settings, unmanaged));
      return { id: consumerId(declared), outs: { ...declared, created: existing.created } };
    }
    const config = consumerWireConfig(declared);
    const info = await withRetry(`create consumer ${consumerId(declared)}`, () => jsm.consumers.add(declared.stream, config));
    return { id: consumerId(declared), outs: { ...declared, created: info.created } };
  },

  async read(settings: ProviderSettings, id: string, props: ConsumerOutputs | undefined): Promise<{ id?: string; props?: ConsumerOutputs }> {
    const { stream, name } = props ? { stream: props.stream, name: props.name } : splitConsumerId(id);
    const info = await consumerInfo(await jetStreamManager(settings.connection), stream, name);
    if (!info) return {};
    return { id, props: { ...liveConsumerInputs(info), created: info.created } };
  },

  async update(settings: ProviderSettings, _id: string, olds: ConsumerOutputs, news: ConsumerInputs): Promise<{ outs: ConsumerOutputs }> {
    const declared = consumerInputs(news);
    const jsm = await jetStreamManager(settings.connection);
    // Every mutable field is sent: consumers.update merges into the current config.
    const config = consumerWireConfig(declared);
    const info = await withRetry(`update consumer ${consumerId(declared)}`, () =>
      jsm.consumers.update(olds.stream, olds.name, config),
    );
    return { outs: { ...declared, created: info.created } };
  },

  async delete(settings: ProviderSettings, id: string, props: ConsumerOutputs): Promise<void> {
    const { stream, name } = props ? { stream: props.stream, name: props.name } : splitConsumerId(id);
    const jsm = await jetStreamManager(settings.connection);
    // Already gone with its stream (deletedWith/replaceWith) or by hand: nothing left to do.
    await unlessNotFound(
      () => withRetry(`delete consumer ${stream}/${name}`, () => jsm.consumers.delete(stream, name)),
      [CONSUMER_NOT_FOUND, STREAM_NOT_FOUND],
    );
  },
};

// ---------------------------------------------------------------------------------------------------------
// Settings from the stack config, and the provider objects the engine calls.

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

type Ops<I, O> = {
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
function dynamicProvider<I, O>(ops: Ops<I, O>): pulumi.dynamic.ResourceProvider<I, O> {
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

export function streamProvider(): pulumi.dynamic.ResourceProvider<StreamInputs, StreamOutputs> {
  return dynamicProvider<StreamInputs, StreamOutputs>(streamOps);
}

export function consumerProvider(): pulumi.dynamic.ResourceProvider<ConsumerInputs, ConsumerOutputs> {
  return dynamicProvider<ConsumerInputs, ConsumerOutputs>(consumerOps);
}
