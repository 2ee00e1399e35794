// The Stream dynamic provider: check, diff, create, read, update, delete of one JetStream stream, driven by
// the field table of streams/fields.ts. The ops are plain functions over explicit settings, so local mode and
// the tests run exactly what the provider host runs.

import type * as pulumi from "@pulumi/pulumi";
import type { JetStreamManager, StreamInfo } from "nats";
import {
  fieldChanges,
  fixedFieldDifferences,
  normalizeStream,
  STREAM_FIELDS,
  STREAM_FIXED,
  streamApiConfig,
  streamSpecFromApi,
  type StreamFields,
} from "../fields";
import { jetStreamManager, STREAM_NOT_FOUND, unlessNotFound, withRetry } from "./client";
import { checkWith, compact, dynamicProvider, hasUnknown, mismatch, unmanagedMismatch, type Diff, type ProviderSettings } from "./settings";

/** A stream's inputs: the fields its config is made of (publishers shape nats.conf, not the stream). */
export type StreamInputs = StreamFields;
export type StreamOutputs = StreamInputs & { readonly created: string };

/** Canonical stream inputs: the readable form with the server's defaults filled, managed fields only. */
export function streamInputs(spec: StreamFields): StreamInputs {
  // Outputs carry `created` (and the engine may add `__provider`), a catalog spec carries `publishers`: the
  // table's fields are all that is kept, undefined members dropped (protobuf Structs cannot carry them).
  return compact(normalizeStream(spec));
}

export const streamId = (inputs: { name: string }): string => inputs.name;

function streamDiff(olds: StreamOutputs, news: StreamInputs): Diff {
  // Unknown inputs (preview) cannot be normalised; fieldChanges compares them as themselves, i.e. as changed.
  const { changed, replaces } = hasUnknown(news)
    ? fieldChanges(STREAM_FIELDS, streamInputs(olds), news)
    : fieldChanges(STREAM_FIELDS, streamInputs(olds), streamInputs(news));
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
  return streamInputs(streamSpecFromApi(info.config));
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
      const { changed } = fieldChanges(STREAM_FIELDS, live, declared);
      if (changed.length > 0) throw new Error(mismatch("stream", declared.name, settings, changed, live, declared));
      const unmanaged = fixedFieldDifferences(STREAM_FIXED, existing.config as unknown as Record<string, unknown>);
      if (unmanaged.length > 0) throw new Error(unmanagedMismatch("stream", declared.name, settings, unmanaged));
      return { id: streamId(declared), outs: streamOutputs(declared, existing) };
    }
    const config = streamApiConfig(declared);
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
    const config = streamApiConfig(declared);
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
export function streamProvider(): pulumi.dynamic.ResourceProvider<StreamInputs, StreamOutputs> {
  return dynamicProvider<StreamInputs, StreamOutputs>(streamOps);
}

