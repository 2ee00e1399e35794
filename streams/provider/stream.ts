// The Stream dynamic provider: check, diff, create, read, update, delete of one JetStream stream, driven by
// the field table of streams/fields.ts. The ops are plain functions over explicit settings, so local mode and
// the tests run exactly what the provider host runs.

import type * as pulumi from "@pulumi/pulumi";
import type { ConsumerInfo, JetStreamManager, StreamInfo } from "nats";
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
import {
  checkWith,
  compact,
  dynamicProvider,
  hasUnknown,
  mismatch,
  UNKNOWN,
  unmanagedMismatch,
  validate,
  type CheckFailure,
  type Diff,
  type ProviderSettings,
} from "./settings";
import { serverVersion } from "./client";
import { updateRules, type UpdateRules } from "./serverRules";
import {
  changesAllowingUnknowns,
  interestSwitchLoss,
  consumerShape,
  describeLosses,
  lossAllowed,
  lossRefusal,
  replacementProblem,
  updateLosses,
  workqueueProblems,
} from "./guards";

/** A stream's inputs: the fields its config is made of (publishers shape nats.conf, not the stream). */
export type StreamInputs = StreamFields;
/**
 * Outputs: the inputs plus `created`, and `pinnedDrift` only when a field this project pins (streams/fields.ts
 * STREAM_FIXED) was changed out of band: refresh then shows it, and the next update resets it in view.
 */
export type StreamOutputs = StreamInputs & { readonly created: string; readonly pinnedDrift?: string[] };

/** Canonical stream inputs: the readable form with the server's defaults filled, managed fields only. */
export function streamInputs(spec: StreamFields): StreamInputs {
  // Outputs carry `created` (and the engine may add `__provider`), a catalog spec carries `publishers`: the
  // table's fields are all that is kept, undefined members dropped (protobuf Structs cannot carry them).
  return compact(normalizeStream(spec));
}

export const streamId = (inputs: { name: string }): string => inputs.name;

function streamDiff(olds: StreamOutputs, news: StreamInputs): Diff {
  // Unknown inputs (preview) cannot be normalised: they count as changed, and as a replace where they could force one.
  const next = hasUnknown(news) ? (news as unknown as Record<string, unknown>) : streamInputs(news);
  const { changed, replaces } = changesAllowingUnknowns(STREAM_FIELDS, streamInputs(olds), next);
  if ((olds.pinnedDrift ?? []).length > 0) changed.push("pinnedDrift");
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
}

/** Refuses to destroy a stream that holds messages unless the stack config allows it for that stream. */
function guardStream(settings: ProviderSettings, info: StreamInfo, action: string): void {
  const name = info.config.name;
  const messages = info.state.messages;
  if (messages === 0 || lossAllowed(settings, name)) return;
  throw lossRefusal(settings, name, `${action} stream ${name}: it holds ${messages} message(s) that would be lost`);
}

/**
 * The field table's replace decisions adjusted to what the connected server can change in place: from 2.10
 * retention moves between limits and interest as an update. A pinned field reset the server cannot do in place
 * (max_consumers before 2.12.5) is refused with what to do instead.
 */
function applyServerRules(rules: UpdateRules, info: StreamInfo, diff: Diff, news: StreamInputs, olds: StreamOutputs): Diff {
  let replaces = diff.replaces;
  const to = (news as unknown as Record<string, unknown>).retention;
  if (replaces.includes("retention") && typeof to === "string" && to !== UNKNOWN && rules.retentionChangesInPlace(String(info.config.retention), to)) {
    replaces = replaces.filter((f) => f !== "retention");
  }
  const maxConsumers = (olds.pinnedDrift ?? []).find((d) => d.startsWith("max_consumers:"));
  if (maxConsumers && !rules.maxConsumersUpdatable) {
    throw new Error(
      `stream ${info.config.name}: ${maxConsumers} (changed out of band), and nats-server ${rules.version} cannot change ` +
        `max_consumers in place (before 2.12.5). Set it back with the nats CLI only by re-creating the stream, or upgrade the servers.`,
    );
  }
  return { ...diff, replaces };
}

const LOSSY_FIELDS = ["maxBytes", "maxMsgs", "maxAge"] as const;

/**
 * Throws, naming the stream and the command that allows it, when applying `diff` to the live stream would
 * lose messages or delete a stream whose replacement cannot be created. Runs in diff (preview) and before the
 * server is changed (up): values unknown in preview are checked as "may change" there and exactly here.
 */
async function guardStreamChange(settings: ProviderSettings, jsm: JetStreamManager, info: StreamInfo, diff: Diff, news: StreamInputs): Promise<void> {
  const name = info.config.name;
  const held = info.state.messages;
  const allowed = lossAllowed(settings, name);
  const known = !hasUnknown(news);
  if (diff.replaces.length > 0) {
    const why = `${diff.replaces.join(", ")} cannot change in place`;
    guardStream(settings, info, `replace (${why})`);
    if (!known) return;
    const next = streamApiConfig(streamInputs(news));
    const problems: string[] = [];
    if (next.retention === "workqueue") {
      const consumers = await withRetry(`list consumers of ${name}`, async () => {
        const all: ConsumerInfo[] = [];
        for await (const c of jsm.consumers.list(name)) all.push(c);
        return all;
      });
      problems.push(...workqueueProblems(consumers.map((c) => consumerShape(c.config, c.name))));
    }
    const capacity = await replacementProblem(jsm, info, next);
    if (capacity) problems.push(`the new configuration cannot be created: ${capacity}`);
    if (problems.length > 0) {
      throw new Error(
        `refusing to replace stream ${name} (${why}): a replace deletes the stream first, and the new one would then fail:\n  ` +
          `${problems.join("\n  ")}\nNothing was changed. Change the declaration so the new stream fits (storage, maxBytes, replicas, its consumers), ` +
          `or make room on the servers, and run again.`,
      );
    }
    return;
  }
  if (held === 0 || allowed) return;
  if (!known) {
    const unknown = LOSSY_FIELDS.filter((k) => hasUnknown((news as unknown as Record<string, unknown>)[k]));
    if (unknown.length > 0) {
      throw lossRefusal(settings, name, `update stream ${name}: ${unknown.join(", ")} not known until up, and a lower limit would drop up to all of its ${held} message(s)`);
    }
    return;
  }
  const losses = updateLosses(info, streamApiConfig(streamInputs(news)));
  if (String(info.config.retention) === "limits" && news.retention === "interest") {
    // stream.go (update, retention changed to interest): each consumer re-checks interest and the stream is
    // compacted up to the lowest ack floor, so what every consumer has acked goes at once.
    const consumers = await withRetry(`list consumers of ${name}`, async () => {
      const all: ConsumerInfo[] = [];
      for await (const c of jsm.consumers.list(name)) all.push(c);
      return all;
    });
    const dropped = interestSwitchLoss(info, consumers);
    if (dropped > 0) losses.push({ field: "retention", messages: dropped, exact: false });
  }
  if (losses.length > 0) throw lossRefusal(settings, name, `update stream ${name} in place: ${describeLosses(losses, held)}`);
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

/**
 * Every problem of a stream's inputs, each naming its property: a Stream declared outside the catalog gets
 * no zod schema or stream policy, so the server's own rules are checked here before anything is sent.
 */
export function streamProblems(news: Readonly<Record<string, unknown>>): CheckFailure[] {
  const failures: CheckFailure[] = [];
  validate.name(failures, "name", news.name);
  const subjects = news.subjects;
  // A mirror (a standby region's, streams/catalog.ts regionalCatalog) has no subjects: the server fills them from
  // its origin and refuses any. The same rule as the catalog's (streams/spec.ts mirrorRules).
  const mirror = news.mirror;
  if (subjects !== UNKNOWN && mirror !== UNKNOWN) {
    if (mirror !== undefined) {
      if (Array.isArray(subjects) && subjects.length > 0) {
        failures.push({ property: "subjects", reason: `subjects = ${JSON.stringify(subjects)}: must be empty on a mirror (the server copies its origin's subjects)` });
      }
    } else if (!Array.isArray(subjects) || subjects.length === 0) {
      failures.push({ property: "subjects", reason: `subjects = ${JSON.stringify(subjects)}: must list at least one subject` });
    } else {
      subjects.forEach((subject, i) => validate.subject(failures, `subjects[${i}]`, subject));
    }
  }
  validate.oneOf(failures, "retention", news.retention, ["limits", "interest", "workqueue"]);
  validate.oneOf(failures, "storage", news.storage, ["file", "memory"]);
  validate.oneOf(failures, "discard", news.discard, ["old", "new"], true);
  // More than 5 replicas fails on the server (NOTES.md); more than the cluster's peers fails at placement.
  validate.integer(failures, "replicas", news.replicas, 1, 5);
  validate.integer(failures, "maxMsgs", news.maxMsgs, 1, Number.MAX_SAFE_INTEGER, true);
  if (news.maxBytes === undefined) {
    failures.push({ property: "maxBytes", reason: "maxBytes is not set: every stream needs a size bound, or it can fill the servers' store" });
  }
  for (const f of STREAM_FIELDS) validate.converts(failures, f.key, news[f.key], f.toApi as (v: never) => unknown);
  for (const key of ["denyDelete", "denyPurge"]) {
    const v = news[key];
    if (v !== undefined && v !== UNKNOWN && typeof v !== "boolean") failures.push({ property: key, reason: `${key} = ${JSON.stringify(v)}: must be true or false` });
  }
  return failures;
}

export const streamOps = {
  check(_olds: StreamInputs | undefined, news: StreamInputs): pulumi.dynamic.CheckResult<StreamInputs> {
    return checkWith(news, streamProblems, streamInputs);
  },

  async diff(settings: ProviderSettings, _id: string, olds: StreamOutputs, news: StreamInputs): Promise<Diff> {
    const diff = streamDiff(olds, news);
    if (!diff.changes) return diff;
    // Fail the preview, not halfway through `up`: a replacement deletes the stream first, an update drops at once.
    const jsm = await jetStreamManager(settings.connection);
    const info = await streamInfo(jsm, olds.name);
    if (!info) return diff;
    const rules = updateRules(await serverVersion(settings.connection));
    const versioned = applyServerRules(rules, info, diff, news, olds);
    await guardStreamChange(settings, jsm, info, versioned, news);
    return versioned;
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
    const pinned = fixedFieldDifferences(STREAM_FIXED, info.config as unknown as Record<string, unknown>);
    return { id, props: { ...streamOutputs(liveStreamInputs(info), info), ...(pinned.length > 0 ? { pinnedDrift: pinned } : {}) } };
  },

  async update(settings: ProviderSettings, _id: string, olds: StreamOutputs, news: StreamInputs): Promise<{ outs: StreamOutputs }> {
    const declared = streamInputs(news);
    const jsm = await jetStreamManager(settings.connection);
    const info = await streamInfo(jsm, olds.name);
    if (info) {
      const { changed } = fieldChanges(STREAM_FIELDS, liveStreamInputs(info), declared);
      const pinned = fixedFieldDifferences(STREAM_FIXED, info.config as unknown as Record<string, unknown>);
      // nats-server issue 5526: an update of an R3 workqueue stream with an unchanged config lost NAK-delayed
      // messages. When the live stream already is what is declared, nothing is sent.
      if (changed.length === 0 && pinned.length === 0) return { outs: streamOutputs(declared, info) };
      await guardStreamChange(settings, jsm, info, { changes: true, replaces: [], deleteBeforeReplace: true, changed }, declared);
    }
    // nats.js merges an update into the current config: send every managed field so none keeps a stale value.
    const config = streamApiConfig(declared);
    const updated = await withRetry(`update stream ${declared.name}`, () => jsm.streams.update(olds.name, config));
    return { outs: streamOutputs(declared, updated) };
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

