// Declared catalog vs live server, without Pulumi state (a server changed by hand has no record in it).
// Compares the same managed fields, normalised the same way, as the provider's diff, so "no drift" here means
// `pulumi refresh --expect-no-changes` has nothing to report either.

import type { ConsumerInfo, JetStreamManager, StreamInfo } from "nats";
import { CONSUMER_FIELDS, CONSUMER_FIXED, fieldChanges, pinnedDrifts, STREAM_FIELDS, STREAM_FIXED } from "../fields";
import { withRetry } from "../provider/client";
import { consumerId, consumerInputs, liveConsumerInputs } from "../provider/consumer";
import { liveStreamInputs, streamInputs } from "../provider/stream";
import type { Catalog } from "../spec";

export interface FieldDrift {
  readonly field: string;
  readonly declared: unknown;
  readonly live: unknown;
}

export interface Drift {
  readonly kind: "stream" | "consumer";
  /** Stream name, or `<stream>/<durable>`. */
  readonly id: string;
  /** missing: declared, not on the server; extra: on the server, not declared; changed: fields differ. */
  readonly status: "missing" | "extra" | "changed";
  readonly fields: readonly FieldDrift[];
}

export interface LiveState {
  readonly streams: readonly StreamInfo[];
  readonly consumers: readonly ConsumerInfo[];
}

/** Every stream and every consumer (of every stream) on the server. */
export async function readLiveState(jsm: JetStreamManager): Promise<LiveState> {
  const streams: StreamInfo[] = [];
  const consumers: ConsumerInfo[] = [];
  await withRetry("list streams", async () => {
    streams.length = 0;
    for await (const s of jsm.streams.list()) streams.push(s);
  });
  for (const s of streams) {
    await withRetry(`list consumers of ${s.config.name}`, async () => {
      const mine: ConsumerInfo[] = [];
      for await (const c of jsm.consumers.list(s.config.name)) mine.push(c);
      consumers.push(...mine);
    });
  }
  return { streams, consumers };
}


function fieldDrifts(changed: readonly string[], declared: object, live: object): FieldDrift[] {
  return changed.map((field) => ({
    field,
    declared: (declared as Record<string, unknown>)[field],
    live: (live as Record<string, unknown>)[field],
  }));
}

/**
 * Pinned API fields (not in the catalog, always sent at their pin) changed out of band, by API name: the next
 * update would silently reset them, so they are drift too.
 */
function pinnedFieldDrifts(fixed: Readonly<Record<string, unknown>>, config: object): FieldDrift[] {
  return pinnedDrifts(fixed, config as Record<string, unknown>).map((d) => ({ field: d.api, declared: d.pinned, live: d.live }));
}

/** The differences, in catalog order, then the extras sorted by name. Empty: no drift. */
export function compareCatalog(catalog: Catalog, live: LiveState): Drift[] {
  const drifts: Drift[] = [];
  const liveStreams = new Map(live.streams.map((s) => [s.config.name, s]));
  const liveConsumers = new Map(live.consumers.map((c) => [`${c.stream_name}/${c.config.durable_name ?? c.name}`, c]));
  for (const spec of catalog.streams) {
    const info = liveStreams.get(spec.name);
    if (!info) {
      drifts.push({ kind: "stream", id: spec.name, status: "missing", fields: [] });
      continue;
    }
    const declared = streamInputs(spec);
    const current = liveStreamInputs(info);
    const { changed } = fieldChanges(STREAM_FIELDS, current, declared);
    const fields = [...fieldDrifts(changed, declared, current), ...pinnedFieldDrifts(STREAM_FIXED, info.config)];
    if (fields.length > 0) drifts.push({ kind: "stream", id: spec.name, status: "changed", fields });
  }
  for (const spec of catalog.consumers) {
    const declared = consumerInputs(spec);
    const id = consumerId(declared);
    const info = liveConsumers.get(id);
    if (!info) {
      drifts.push({ kind: "consumer", id, status: "missing", fields: [] });
      continue;
    }
    const current = liveConsumerInputs(info);
    const { changed } = fieldChanges(CONSUMER_FIELDS, current, declared);
    const fields = [...fieldDrifts(changed, declared, current), ...pinnedFieldDrifts(CONSUMER_FIXED, info.config)];
    if (fields.length > 0) drifts.push({ kind: "consumer", id, status: "changed", fields });
  }
  const declaredStreams = new Set(catalog.streams.map((s) => s.name));
  const declaredConsumers = new Set(catalog.consumers.map((c) => consumerId(c)));
  for (const name of [...liveStreams.keys()].sort()) {
    if (!declaredStreams.has(name)) drifts.push({ kind: "stream", id: name, status: "extra", fields: [] });
  }
  for (const id of [...liveConsumers.keys()].sort()) {
    // Consumers of an undeclared stream are covered by that stream's "extra" row.
    if (!declaredConsumers.has(id) && declaredStreams.has(id.split("/")[0])) {
      drifts.push({ kind: "consumer", id, status: "extra", fields: [] });
    }
  }
  return drifts;
}

const show = (v: unknown): string => (v === undefined ? "(unset)" : typeof v === "string" ? v : JSON.stringify(v));

/** A fixed-width table: one row per resource, or per changed field. */
export function driftTable(drifts: readonly Drift[]): string {
  const rows: string[][] = [["KIND", "NAME", "STATUS", "FIELD", "DECLARED", "LIVE"]];
  for (const d of drifts) {
    if (d.fields.length === 0) rows.push([d.kind, d.id, d.status, "", d.status === "extra" ? "(not declared)" : "(declared)", d.status === "missing" ? "(absent)" : "(present)"]);
    for (const f of d.fields) rows.push([d.kind, d.id, d.status, f.field, show(f.declared), show(f.live)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
