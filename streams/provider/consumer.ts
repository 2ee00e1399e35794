// The Consumer dynamic provider: check, diff, create, read, update, delete of one durable pull consumer,
// driven by the consumer field table of streams/fields.ts.

import type * as pulumi from "@pulumi/pulumi";
import type { ConsumerConfig, ConsumerInfo, JetStreamManager, StreamInfo } from "nats";
import {
  CONSUMER_FIELDS,
  CONSUMER_FIXED,
  consumerApiConfig,
  consumerSpecFromApi,
  fieldChanges,
  fixedFieldDifferences,
  normalizeConsumer,
  type ConsumerFields,
} from "../fields";
import { CONSUMER_NOT_FOUND, jetStreamManager, serverVersion, STREAM_NOT_FOUND, unlessNotFound, withRetry } from "./client";
import { updateRules, type UpdateRules } from "./serverRules";
import {
  checkWith,
  compact,
  dynamicProvider,
  hasUnknown,
  mismatch,
  unmanagedMismatch,
  validate,
  type CheckFailure,
  type Diff,
  type ProviderSettings,
} from "./settings";
import { changesAllowingUnknowns, consumerShape, heldByConsumer, lossAllowed, lossRefusal, workqueueProblems } from "./guards";

/** A consumer's inputs: the fields its config is made of (the `consumer` user shapes permissions only). */
export type ConsumerInputs = ConsumerFields;
/** Outputs: the inputs plus `created`, and `pinnedDrift` when a pinned field (CONSUMER_FIXED) changed out of band. */
export type ConsumerOutputs = ConsumerInputs & { readonly created: string; readonly pinnedDrift?: string[] };

/** Canonical consumer inputs: managed fields only, normalised, undefined members dropped. */
export function consumerInputs(spec: ConsumerFields): ConsumerInputs {
  return compact(normalizeConsumer(spec));
}

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
  return consumerInputs(consumerSpecFromApi(info.stream_name, info.config));
}

function consumerDiff(olds: ConsumerOutputs, news: ConsumerInputs): Diff {
  const next = hasUnknown(news) ? (news as unknown as Record<string, unknown>) : consumerInputs(news);
  const { changed, replaces } = changesAllowingUnknowns(CONSUMER_FIELDS, consumerInputs(olds), next);
  if ((olds.pinnedDrift ?? []).length > 0) changed.push("pinnedDrift");
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
}

async function streamOf(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  return unlessNotFound(() => withRetry(`stream ${stream} info`, () => jsm.streams.info(stream)), [STREAM_NOT_FOUND]);
}

/**
 * On interest and workqueue streams a consumer's messages live on its account: deleting it (a replace deletes
 * first) drops what only it was holding on an interest stream (NOTES.md: 5 of 5 unacked lost) and throws away
 * the delivery state on a workqueue. Refused while it holds messages, unless the stream's loss is allowed.
 */
async function guardConsumerLoss(settings: ProviderSettings, jsm: JetStreamManager, stream: StreamInfo, id: { stream: string; name: string }, action: string): Promise<void> {
  const retention = String(stream.config.retention);
  if (retention === "limits" || lossAllowed(settings, id.stream)) return;
  const info = await consumerInfo(jsm, id.stream, id.name);
  if (!info || heldByConsumer(info) === 0) return;
  throw lossRefusal(
    settings,
    id.stream,
    `${action} consumer ${consumerId(id)} on ${retention} stream ${id.stream}: it holds ${heldByConsumer(info)} message(s) ` +
      `(${info.num_pending} not yet delivered, ${info.num_ack_pending} delivered and not acked) that would be lost with it`,
  );
}

/**
 * Why `inputs` cannot be created on the live stream (its retention's rules), one line each; empty: it can.
 * `replacing` is the consumer a replace deletes first, so it does not count against the new one.
 */
async function retentionProblems(jsm: JetStreamManager, stream: StreamInfo, inputs: ConsumerInputs, replacing?: string): Promise<string[]> {
  if (String(stream.config.retention) !== "workqueue") return [];
  const next = consumerShape(consumerApiConfig(inputs), inputs.name);
  const others = await withRetry(`list consumers of ${inputs.stream}`, async () => {
    const all: ConsumerInfo[] = [];
    for await (const c of jsm.consumers.list(inputs.stream)) all.push(c);
    return all;
  });
  const shapes = others.map((c) => consumerShape(c.config, c.name)).filter((c) => c.name !== inputs.name && c.name !== replacing);
  // Only the problems this consumer brings: the others already exist together.
  return workqueueProblems([next, ...shapes]).filter((p) => p.includes(`consumer ${next.name}:`) || p.includes(` ${next.name} and `) || p.includes(` and ${next.name}:`));
}

/** The backoff list against max_deliver under the connected server's rule (serverRules.ts), or undefined. */
function backoffProblem(rules: UpdateRules, inputs: ConsumerInputs): string | undefined {
  const backoffs = inputs.backoff?.length ?? 0;
  const maxDeliver = inputs.maxDeliver ?? -1;
  if (rules.backoffAllowed(backoffs, maxDeliver)) return undefined;
  return (
    `backoff has ${backoffs} entries and maxDeliver is ${maxDeliver}: nats-server ${rules.version} needs ` +
    (rules.backoffAllowed(1, -1) ? `maxDeliver -1 or at least ${backoffs}` : `maxDeliver greater than ${backoffs}`) +
    " (JetStream error 10116)"
  );
}

/**
 * Every problem of a consumer's inputs, each naming its property (a Consumer declared outside the catalog gets
 * no zod schema or stream policy).
 */
export function consumerProblems(news: Readonly<Record<string, unknown>>): CheckFailure[] {
  const failures: CheckFailure[] = [];
  validate.name(failures, "stream", news.stream);
  validate.name(failures, "name", news.name);
  validate.oneOf(failures, "deliverPolicy", news.deliverPolicy, ["all", "new", "last", "last_per_subject"]);
  validate.oneOf(failures, "ackPolicy", news.ackPolicy, ["explicit", "none", "all"]);
  if (news.filterSubject !== undefined) validate.subject(failures, "filterSubject", news.filterSubject);
  if (news.maxDeliver !== undefined && news.maxDeliver !== -1) validate.integer(failures, "maxDeliver", news.maxDeliver, 1, Number.MAX_SAFE_INTEGER);
  validate.integer(failures, "maxAckPending", news.maxAckPending, 1, Number.MAX_SAFE_INTEGER, true);
  for (const f of CONSUMER_FIELDS) validate.converts(failures, f.key, news[f.key], f.toApi as (v: never) => unknown);
  return failures;
}

/**
 * The consumer config as sent. An unset filter goes as a missing key, not "": nats.js appends a filter to the
 * create subject ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), and "" yields a trailing-dot subject that
 * no permission matches. The key stays present (undefined) so an update's merge clears an old filter.
 */
function consumerWireConfig(inputs: ConsumerInputs): ConsumerConfig {
  const config = consumerApiConfig(inputs);
  return { ...config, filter_subject: config.filter_subject || undefined };
}

export const consumerOps = {
  check(_olds: ConsumerInputs | undefined, news: ConsumerInputs): pulumi.dynamic.CheckResult<ConsumerInputs> {
    return checkWith(news, consumerProblems, consumerInputs);
  },

  async diff(settings: ProviderSettings, _id: string, olds: ConsumerOutputs, news: ConsumerInputs): Promise<Diff> {
    const diff = consumerDiff(olds, news);
    if (!diff.changes) return diff;
    if (!hasUnknown(news)) {
      const backoff = backoffProblem(updateRules(await serverVersion(settings.connection)), consumerInputs(news));
      if (backoff) throw new Error(`refusing to change consumer ${consumerId(olds)}: ${backoff}`);
    }
    if (diff.replaces.length === 0) return diff;
    // A replace deletes the consumer first: refuse in preview what would lose messages or fail to re-create.
    const jsm = await jetStreamManager(settings.connection);
    const stream = await streamOf(jsm, olds.stream);
    if (!stream) return diff;
    const why = `${diff.replaces.join(", ")} cannot change in place`;
    await guardConsumerLoss(settings, jsm, stream, olds, `replace (${why})`);
    if (!hasUnknown(news)) {
      const problems = await retentionProblems(jsm, stream, consumerInputs(news), olds.name);
      if (problems.length > 0) {
        throw new Error(
          `refusing to replace consumer ${consumerId(olds)} (${why}): a replace deletes the consumer first, and the new one ` +
            `would then fail on ${stream.config.retention} stream ${olds.stream}:\n  ${problems.join("\n  ")}\nNothing was changed. Change the declaration and run again.`,
        );
      }
    }
    return diff;
  },

  async create(settings: ProviderSettings, inputs: ConsumerInputs): Promise<{ id: string; outs: ConsumerOutputs }> {
    const declared = consumerInputs(inputs);
    const jsm = await jetStreamManager(settings.connection);
    const existing = await consumerInfo(jsm, declared.stream, declared.name);
    if (existing) {
      const live = liveConsumerInputs(existing);
      const { changed } = fieldChanges(CONSUMER_FIELDS, live, declared);
      if (changed.length > 0) {
        throw new Error(mismatch("consumer", consumerId(declared), settings, changed, live, declared));
      }
      const unmanaged = fixedFieldDifferences(CONSUMER_FIXED, existing.config as unknown as Record<string, unknown>);
      if (unmanaged.length > 0) throw new Error(unmanagedMismatch("consumer", consumerId(declared), settings, unmanaged));
      return { id: consumerId(declared), outs: { ...declared, created: existing.created } };
    }
    const stream = await streamOf(jsm, declared.stream);
    const backoff = backoffProblem(updateRules(await serverVersion(settings.connection)), declared);
    const problems = [...(backoff ? [backoff] : []), ...(stream ? await retentionProblems(jsm, stream, declared) : [])];
    if (problems.length > 0) {
      throw new Error(`cannot create consumer ${consumerId(declared)} on ${stream?.config.retention} stream ${declared.stream}:\n  ${problems.join("\n  ")}`);
    }
    const config = consumerWireConfig(declared);
    const info = await withRetry(`create consumer ${consumerId(declared)}`, () => jsm.consumers.add(declared.stream, config));
    return { id: consumerId(declared), outs: { ...declared, created: info.created } };
  },

  async read(settings: ProviderSettings, id: string, props: ConsumerOutputs | undefined): Promise<{ id?: string; props?: ConsumerOutputs }> {
    const { stream, name } = props ? { stream: props.stream, name: props.name } : splitConsumerId(id);
    const info = await consumerInfo(await jetStreamManager(settings.connection), stream, name);
    if (!info) return {};
    const pinned = fixedFieldDifferences(CONSUMER_FIXED, info.config as unknown as Record<string, unknown>);
    return { id, props: { ...liveConsumerInputs(info), created: info.created, ...(pinned.length > 0 ? { pinnedDrift: pinned } : {}) } };
  },

  async update(settings: ProviderSettings, _id: string, olds: ConsumerOutputs, news: ConsumerInputs): Promise<{ outs: ConsumerOutputs }> {
    const declared = consumerInputs(news);
    const jsm = await jetStreamManager(settings.connection);
    const live = await consumerInfo(jsm, olds.stream, olds.name);
    if (live) {
      const { changed } = fieldChanges(CONSUMER_FIELDS, liveConsumerInputs(live), declared);
      const pinned = fixedFieldDifferences(CONSUMER_FIXED, live.config as unknown as Record<string, unknown>);
      // Nothing managed differs: send nothing (a no-op update is never free on the server, nats-server 5526).
      if (changed.length === 0 && pinned.length === 0) return { outs: { ...declared, created: live.created } };
    }
    if (!live && updateRules(await serverVersion(settings.connection)).consumerActionEnforced) {
      // Gone out of band: from 2.10 an update of a missing consumer fails (10149), so it is created again.
      const created = await withRetry(`create consumer ${consumerId(declared)}`, () => jsm.consumers.add(declared.stream, consumerWireConfig(declared)));
      return { outs: { ...declared, created: created.created } };
    }
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
    const streamInfo = await streamOf(jsm, stream);
    if (streamInfo) await guardConsumerLoss(settings, jsm, streamInfo, { stream, name }, "delete");
    // Already gone with its stream (deletedWith/replaceWith) or by hand: nothing left to do.
    await unlessNotFound(
      () => withRetry(`delete consumer ${stream}/${name}`, () => jsm.consumers.delete(stream, name)),
      [CONSUMER_NOT_FOUND, STREAM_NOT_FOUND],
    );
  },
};
export function consumerProvider(): pulumi.dynamic.ResourceProvider<ConsumerInputs, ConsumerOutputs> {
  return dynamicProvider<ConsumerInputs, ConsumerOutputs>(consumerOps);
}
