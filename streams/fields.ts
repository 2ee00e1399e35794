// The one table per resource that maps a readable spec field to its JetStream API field: unit conversion both
// ways, the server default applied when unset, and whether the server lets it change in place (update) or the
// resource must be replaced. Check, diff, read-back, streams.json and the docs all walk these tables, so a new
// field is one row here, not four hand-kept lists.

import type { ConsumerConfig, StreamConfig } from "nats";
import { formatDuration, formatSize, parseDuration, parseSize } from "../lib/units";
import type { ConsumerSpec, StreamSpec } from "./spec";

/**
 * What the stream table compares: the spec without `publishers`, which shape permissions (nats.conf), not the
 * stream. The provider's inputs and drift's rows have exactly this shape, so nothing has to be padded out.
 */
export type StreamFields = Omit<StreamSpec, "publishers" | "replication">;
/** What the consumer table compares: the spec without the `consumer` user, which shapes permissions only. */
export type ConsumerFields = Omit<ConsumerSpec, "consumer">;

export interface Field<S> {
  readonly key: keyof S & string;
  /** JetStream API name, e.g. "max_age". */
  readonly api: string;
  /** "replace": the server refuses to change it after create (nats-server 2.9 rules, NOTES.md). */
  readonly change: "update" | "replace";
  /** Readable -> API value, applying the server default when unset. */
  toApi(value: S[keyof S] | undefined): unknown;
  /** API value -> readable canonical form (undefined where the spec leaves the field out). */
  fromApi(value: unknown): unknown;
  readonly doc: string;
  /**
   * False for a field that is not part of the API config body (the consumer's stream is a token of the API
   * subject and comes back as ConsumerInfo.stream_name).
   */
  readonly inConfig?: boolean;
  /** For an "update" field: whether this particular change still needs a replace (old API value, new). */
  readonly replaceWhen?: (oldApi: unknown, newApi: unknown) => boolean;
}

// ---- unit conversions -------------------------------------------------------------------------------------

const nanos = (text: string): number => {
  const ns = parseDuration(text);
  if (ns === undefined) throw new Error(`not a duration: "${text}"`);
  return Number(ns);
};
const bytes = (text: string): number => {
  const b = parseSize(text);
  if (b === undefined) throw new Error(`not a size: "${text}"`);
  return b;
};
const num = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));
/** Exact readable size: formatSize when it round-trips ("512MiB"), plain bytes otherwise ("1000000000B"). */
export const canonicalSize = (b: number): string => (parseSize(formatSize(b)) === b ? formatSize(b) : `${b}B`);
/** -1 is JetStream's "unlimited", which the spec writes by leaving the field out. */
const unlimitedOr = <T>(value: unknown, f: (n: number) => T): T | undefined => {
  const n = num(value);
  return n < 0 ? undefined : f(n);
};
const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const same = (value: unknown): unknown => value;
const str = (value: unknown): string | undefined => (value === undefined ? undefined : String(value));

/** Server default for duplicate_window: min(2m, max_age), 2m when max_age is unlimited (0). */
export function defaultDuplicateWindow(maxAge: string): string {
  const twoMinutes = 120_000_000_000n;
  const age = parseDuration(maxAge) ?? 0n;
  return formatDuration(age > 0n && age < twoMinutes ? age : twoMinutes);
}

/** The JetStream API of another domain, as a mirror's `external.api` names it. */
export const domainApi = (domain: string): string => `$JS.${domain}.API`;

/** A mirror config read back as the spec writes it ({name, domain}); undefined for a stream that mirrors nothing. */
function mirrorFromApi(v: unknown): { name: string; domain: string } | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const m = v as { name?: unknown; external?: { api?: unknown } };
  const domain = typeof m.external?.api === "string" ? /^\$JS\.([^.]+)\.API$/.exec(m.external.api)?.[1] : undefined;
  return typeof m.name === "string" && domain !== undefined ? { name: m.name, domain } : undefined;
}

// The server lets deny_delete/deny_purge be turned on in place, never off.
const turnsOff = (oldApi: unknown, newApi: unknown): boolean => oldApi === true && newApi !== true;

// ---- stream -----------------------------------------------------------------------------------------------

type SV = StreamFields[keyof StreamFields] | undefined;

export const STREAM_FIELDS: readonly Field<StreamFields>[] = [
  { key: "name", api: "name", change: "replace", toApi: same, fromApi: str, doc: "Stream name; a token of every API subject." },
  {
    key: "description",
    api: "description",
    change: "update",
    // "" (not undefined) so that an update clears a description: nats.js merges updates into the current config.
    toApi: (v: SV) => (v as string | undefined) ?? "",
    fromApi: text,
    doc: "Free text shown by `nats stream info`.",
  },
  {
    key: "subjects",
    api: "subjects",
    change: "update",
    toApi: (v: SV) => [...((v as string[] | undefined) ?? [])],
    fromApi: (v: unknown) => (Array.isArray(v) ? v.map(String) : []),
    doc: "Subjects captured; order matters to the server (create with another order fails 10058).",
  },
  { key: "retention", api: "retention", change: "replace", toApi: same, fromApi: str, doc: "limits | interest | workqueue; to or from workqueue is a replace; limits <-> interest an update from 2.10 (streams/provider/serverRules.ts)." },
  { key: "storage", api: "storage", change: "replace", toApi: same, fromApi: str, doc: "file | memory; fixed at create." },
  { key: "replicas", api: "num_replicas", change: "update", toApi: same, fromApi: num, doc: "Raft replicas, 1-5, at most the cluster size." },
  {
    key: "maxAge",
    api: "max_age",
    change: "update",
    toApi: (v: SV) => (v === undefined ? 0 : nanos(v as string)),
    fromApi: (v: unknown) => formatDuration(num(v)),
    doc: "Oldest message kept; nanoseconds in the API.",
  },
  {
    key: "maxBytes",
    api: "max_bytes",
    change: "update",
    toApi: (v: SV) => (v === undefined ? -1 : bytes(v as string)),
    // Unlimited (-1) reads back as unset, like max_msg_size, so a live stream without a limit shows as drift on
    // maxBytes instead of failing to parse. The stream policy keeps the catalog's own streams bounded.
    fromApi: (v: unknown) => unlimitedOr(v, canonicalSize),
    doc: "Size bound; counts once per replica against max_file_store/max_memory_store.",
  },
  {
    key: "maxMsgs",
    api: "max_msgs",
    change: "update",
    toApi: (v: SV) => (v === undefined ? -1 : v),
    fromApi: (v: unknown) => unlimitedOr(v, (n) => n),
    doc: "Message count bound; unset = -1 (unlimited).",
  },
  {
    key: "maxMsgSize",
    api: "max_msg_size",
    change: "update",
    toApi: (v: SV) => (v === undefined ? -1 : bytes(v as string)),
    fromApi: (v: unknown) => unlimitedOr(v, canonicalSize),
    doc: "Largest message accepted; unset = -1 (server max_payload applies).",
  },
  { key: "discard", api: "discard", change: "update", toApi: same, fromApi: str, doc: "old: drop oldest at a limit; new: refuse new messages." },
  {
    key: "duplicateWindow",
    api: "duplicate_window",
    change: "update",
    toApi: (v: SV) => nanos((v as string | undefined) ?? "2m"),
    fromApi: (v: unknown) => formatDuration(num(v)),
    doc: "Msg-ID deduplication window; default min(2m, max_age), must not exceed max_age.",
  },
  {
    key: "mirror",
    api: "mirror",
    change: "update",
    // Removing the mirror is a promotion (nats-server 2.12+ keeps every message and the stream takes its own
    // publishes from then on, docs/regions.md); anything else about a mirror is fixed at create.
    replaceWhen: (oldApi: unknown, newApi: unknown) => {
      const [from, to] = [mirrorFromApi(oldApi), mirrorFromApi(newApi)];
      return !(from !== undefined && to === undefined) && JSON.stringify(from) !== JSON.stringify(to);
    },
    toApi: (v: SV) => {
      const m = v as StreamFields["mirror"];
      return m === undefined ? undefined : { name: m.name, external: { api: domainApi(m.domain) } };
    },
    fromApi: (v: unknown) => mirrorFromApi(v),
    doc: "Standby regions: a mirror of the primary's stream of this name in its JetStream domain (read-only, no subjects). Adding or changing it is a replace; removing it promotes the stream in place, keeping every message.",
  },
  {
    key: "denyDelete",
    api: "deny_delete",
    change: "update",
    replaceWhen: turnsOff,
    toApi: (v: SV) => v === true,
    fromApi: (v: unknown) => v === true,
    doc: "Refuse message deletes via the API; can be turned on, never off (so turning it off means replace).",
  },
  {
    key: "denyPurge",
    api: "deny_purge",
    change: "update",
    replaceWhen: turnsOff,
    toApi: (v: SV) => v === true,
    fromApi: (v: unknown) => v === true,
    doc: "Refuse purges via the API; can be turned on, never off.",
  },
];

/**
 * API fields the catalog does not expose, pinned to the server defaults so that the config sent equals the
 * config read back (a create with an identical config adopts an existing stream; any difference fails).
 */
export const STREAM_FIXED = {
  max_consumers: -1,
  max_msgs_per_subject: -1,
  discard_new_per_subject: false,
  allow_rollup_hdrs: false,
  allow_direct: false,
  mirror_direct: false,
  sealed: false,
} as const;

// ---- consumer ---------------------------------------------------------------------------------------------

type CV = ConsumerFields[keyof ConsumerFields] | undefined;

export const CONSUMER_FIELDS: readonly Field<ConsumerFields>[] = [
  {
    key: "stream",
    api: "stream_name",
    change: "replace",
    toApi: same,
    fromApi: str,
    doc: "Stream the consumer reads; part of the API subject, so a move is a replace.",
    inConfig: false,
  },
  { key: "name", api: "durable_name", change: "replace", toApi: same, fromApi: str, doc: "Durable name (durable_name; 2.9 makes a `name`-only consumer ephemeral)." },
  {
    key: "description",
    api: "description",
    change: "update",
    toApi: (v: CV) => (v as string | undefined) ?? "",
    fromApi: text,
    doc: "Free text shown by `nats consumer info`.",
  },
  {
    key: "filterSubject",
    api: "filter_subject",
    change: "update",
    // Unset stays undefined, never "": nats.js 2.29 puts the filter into the create subject
    // ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), and "" makes a subject with an empty token that
    // permissions refuse. The key is still present, so nats.js's merging update (Object.assign) clears it.
    toApi: (v: CV) => v as string | undefined,
    fromApi: text,
    doc: "Only messages on this subject pattern; unset = the whole stream.",
  },
  { key: "deliverPolicy", api: "deliver_policy", change: "replace", toApi: same, fromApi: str, doc: "all | new | last; fixed at create." },
  { key: "ackPolicy", api: "ack_policy", change: "replace", toApi: same, fromApi: str, doc: "explicit | none | all; fixed at create (omitted means none)." },
  {
    key: "ackWait",
    api: "ack_wait",
    change: "update",
    toApi: (v: CV) => nanos((v as string | undefined) ?? "30s"),
    fromApi: (v: unknown) => formatDuration(num(v)),
    doc: "Time to ack before redelivery; nanoseconds; replaced by backoff[0] when backoff is set.",
  },
  {
    key: "maxDeliver",
    api: "max_deliver",
    change: "update",
    toApi: (v: CV) => (v === undefined ? -1 : v),
    fromApi: num,
    doc: "Deliveries before giving up (then a MAX_DELIVERIES advisory is published).",
  },
  {
    key: "backoff",
    api: "backoff",
    change: "update",
    // [] (not undefined) so an update removes a backoff; the server then leaves the field out of info.
    toApi: (v: CV) => ((v as string[] | undefined) ?? []).map(nanos),
    fromApi: (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.map((n) => formatDuration(num(n))) : undefined),
    doc: "Redelivery delays after each failed delivery; nanoseconds; fewer entries than max_deliver.",
  },
  {
    key: "maxAckPending",
    api: "max_ack_pending",
    change: "update",
    toApi: (v: CV) => v ?? 1000,
    fromApi: num,
    doc: "Unacked messages in flight before the consumer pauses; server default 1000.",
  },
];

/** Pull-consumer API fields the catalog does not expose, pinned to what the server reports back. */
export const CONSUMER_FIXED = {
  replay_policy: "instant",
  max_waiting: 512,
  num_replicas: 0,
} as const;

// ---- mapping ----------------------------------------------------------------------------------------------

/**
 * Pinned (unmanaged) fields whose live value differs from the pin, as "field: live X, pinned Y" lines. An
 * existing stream or consumer with such a difference must not be adopted: every later update would send the
 * pinned value, and some of these (max_consumers) cannot change after creation. Absent means server default.
 */
export function fixedFieldDifferences(fixed: Readonly<Record<string, unknown>>, live: Readonly<Record<string, unknown>>): string[] {
  return pinnedDrifts(fixed, live).map((d) => `${d.api}: live ${JSON.stringify(d.live)}, pinned ${JSON.stringify(d.pinned)}`);
}

/** The pinned API fields whose live value differs (absent means the server default, i.e. the pin). */
export function pinnedDrifts(
  fixed: Readonly<Record<string, unknown>>,
  live: Readonly<Record<string, unknown>>,
): { api: string; live: unknown; pinned: unknown }[] {
  return Object.entries(fixed)
    .filter(([k, pinned]) => live[k] !== undefined && live[k] !== pinned)
    .map(([api, pinned]) => ({ api, live: live[api], pinned }));
}

function toApiObject<S>(table: readonly Field<S>[], spec: S): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of table) if (f.inConfig !== false) out[f.api] = f.toApi(spec[f.key]);
  return out;
}

function fromApiObject<S>(table: readonly Field<S>[], config: Readonly<Record<string, unknown>>): Partial<S> {
  const out: Record<string, unknown> = {};
  for (const f of table) {
    if (f.inConfig === false) continue;
    const value = f.fromApi(config[f.api]);
    if (value !== undefined) out[f.key] = value;
  }
  return out as Partial<S>;
}

/** Canonical readable form: units spelled the shortest exact way, server defaults written out. */
export function normalizeStream(spec: StreamFields): StreamFields {
  return streamSpecFromApi(streamApiConfig(spec));
}

export function normalizeConsumer(spec: ConsumerFields): ConsumerFields {
  return consumerSpecFromApi(spec.stream, consumerApiConfig(spec));
}

/** The exact stream config the provider sends (durations in ns, sizes in bytes, every managed field set). */
export function streamApiConfig(spec: StreamFields): StreamConfig {
  const filled: StreamFields = { ...spec, duplicateWindow: spec.duplicateWindow ?? defaultDuplicateWindow(spec.maxAge) };
  return { ...toApiObject(STREAM_FIELDS, filled), ...STREAM_FIXED } as unknown as StreamConfig;
}

/** The exact consumer config the provider sends: a durable pull consumer (no deliver_subject). */
export function consumerApiConfig(spec: ConsumerFields): ConsumerConfig {
  return { ...toApiObject(CONSUMER_FIELDS, spec), ...CONSUMER_FIXED } as unknown as ConsumerConfig;
}

/** The managed fields of a stream as read from the server, in canonical readable form. */
export function streamSpecFromApi(config: StreamConfig): StreamFields {
  return fromApiObject(STREAM_FIELDS, config as unknown as Record<string, unknown>) as StreamFields;
}

/** The managed fields of a consumer as read from the server, in canonical readable form. */
export function consumerSpecFromApi(stream: string, config: ConsumerConfig): ConsumerFields {
  const managed = fromApiObject(CONSUMER_FIELDS, config as unknown as Record<string, unknown>);
  // On 2.9 info carries both name and durable_name; a consumer created with `name` only is ephemeral.
  const name = config.durable_name ?? config.name;
  return { ...managed, stream, name } as ConsumerFields;
}

/** Any object holding (some of) a spec's fields, e.g. provider inputs without the user names. */
export type FieldValues<S> = { readonly [K in keyof S & string]?: unknown };

// A value that does not convert (e.g. Pulumi's unknown-value placeholder in preview) compares as itself.
function apiValue<S>(f: Field<S>, value: unknown): unknown {
  try {
    return f.toApi(value as S[keyof S] | undefined);
  } catch {
    return value;
  }
}

/**
 * Spec keys whose API value differs, and those of them that force a replace. Pass normalized specs (or
 * canonical read-back ones): values are compared after toApi, so "1440m" and "24h" are equal.
 */
export function fieldChanges<S>(
  table: readonly Field<S>[],
  olds: FieldValues<S>,
  news: FieldValues<S>,
): { changed: string[]; replaces: string[] } {
  const changed: string[] = [];
  const replaces: string[] = [];
  for (const f of table) {
    const before = apiValue(f, olds[f.key]);
    const after = apiValue(f, news[f.key]);
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    changed.push(f.key);
    if (f.change === "replace" || f.replaceWhen?.(before, after)) replaces.push(f.key);
  }
  return { changed, replaces };
}
