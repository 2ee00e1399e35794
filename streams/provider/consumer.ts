// The Consumer dynamic provider: check, diff, create, read, update, delete of one durable pull consumer,
// driven by the consumer field table of streams/fields.ts.

import type * as pulumi from "@pulumi/pulumi";
import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from "nats";
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
import { CONSUMER_NOT_FOUND, jetStreamManager, STREAM_NOT_FOUND, unlessNotFound, withRetry } from "./client";
import { checkWith, compact, dynamicProvider, hasUnknown, mismatch, unmanagedMismatch, type Diff, type ProviderSettings } from "./settings";

/** A consumer's inputs: the fields its config is made of (the `consumer` user shapes permissions only). */
export type ConsumerInputs = ConsumerFields;
export type ConsumerOutputs = ConsumerInputs & { readonly created: string };

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
  const { changed, replaces } = hasUnknown(news)
    ? fieldChanges(CONSUMER_FIELDS, consumerInputs(olds), news)
    : fieldChanges(CONSUMER_FIELDS, consumerInputs(olds), consumerInputs(news));
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
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
      const { changed } = fieldChanges(CONSUMER_FIELDS, live, declared);
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
export function consumerProvider(): pulumi.dynamic.ResourceProvider<ConsumerInputs, ConsumerOutputs> {
  return dynamicProvider<ConsumerInputs, ConsumerOutputs>(consumerOps);
}
