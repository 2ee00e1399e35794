// Applies a whole catalog to a live server without Pulumi, through the very operations the dynamic provider
// runs (so local mode cannot drift from `pulumi up`): read the live resource, diff it against the declaration,
// then create, update or replace (with the same guards). Streams first, then consumers (a consumer needs its
// stream). Nothing undeclared is deleted (without Pulumi state there is no record of what we own); it is
// reported instead.

import type { Catalog } from "../spec";
import { DEFAULT_RETRY, jetStreamManager, type ConnectionSettings } from "../provider/client";
import { compareCatalog, readLiveState } from "./drift";
import { consumerId, consumerInputs, consumerOps } from "../provider/consumer";
import { streamId, streamInputs, streamOps } from "../provider/stream";
import type { ProviderSettings } from "../provider/settings";

export type ApplyActionKind = "create" | "update" | "replace" | "unchanged";

export interface ApplyAction {
  readonly kind: "stream" | "consumer";
  /** Stream name, or `<stream>/<durable>` for a consumer. */
  readonly id: string;
  readonly action: ApplyActionKind;
  /** Managed fields that differed (update/replace). */
  readonly fields: readonly string[];
}

export interface ApplyReport {
  readonly actions: readonly ApplyAction[];
  readonly counts: Readonly<Record<ApplyActionKind, number>>;
  /**
   * On the server but not in the catalog (streams, and consumers of declared streams): left alone, since without
   * Pulumi state nothing says they are ours to delete, but reported so a re-run does not hide them.
   */
  readonly extras: readonly { readonly kind: "stream" | "consumer"; readonly id: string }[];
}

export interface ApplyOptions {
  /** Streams that may be replaced although they hold messages (as `fluo-queue:allowDestroy`). */
  readonly allowDestroy: readonly string[];
  /** Called after each resource, with how many are done of how many: long applies show progress. */
  readonly onAction?: (action: ApplyAction, done: number, total: number) => void;
}

interface Ops<I, O> {
  read(s: ProviderSettings, id: string, props: O | undefined): Promise<{ id?: string; props?: O }>;
  diff(s: ProviderSettings, id: string, olds: O, news: I): Promise<{ changes: boolean; replaces: string[]; changed: string[] }>;
  create(s: ProviderSettings, inputs: I): Promise<{ id: string }>;
  update(s: ProviderSettings, id: string, olds: O, news: I): Promise<unknown>;
  delete(s: ProviderSettings, id: string, props: O): Promise<void>;
}

async function applyOne<I, O>(settings: ProviderSettings, ops: Ops<I, O>, id: string, inputs: I): Promise<{ action: ApplyActionKind; fields: string[] }> {
  const live = await ops.read(settings, id, undefined);
  if (!live.id || !live.props) {
    await ops.create(settings, inputs);
    return { action: "create", fields: [] };
  }
  const diff = await ops.diff(settings, id, live.props, inputs);
  if (!diff.changes) return { action: "unchanged", fields: [] };
  if (diff.replaces.length > 0) {
    // delete() refuses a stream with messages unless allowDestroy lists it, exactly as in `pulumi up`.
    await ops.delete(settings, id, live.props);
    await ops.create(settings, inputs);
    return { action: "replace", fields: diff.changed };
  }
  await ops.update(settings, id, live.props, inputs);
  return { action: "update", fields: diff.changed };
}

/** Makes the server match the catalog; throws on the first refusal or error (nothing after it is applied). */
export async function applyCatalog(connection: ConnectionSettings, catalog: Catalog, options: ApplyOptions): Promise<ApplyReport> {
  const settings: ProviderSettings = { connection, allowDestroy: options.allowDestroy, timeoutMs: DEFAULT_RETRY.totalMs };
  const actions: ApplyAction[] = [];
  const total = catalog.streams.length + catalog.consumers.length;
  const record = (action: ApplyAction): void => {
    actions.push(action);
    options.onAction?.(action, actions.length, total);
  };
  for (const spec of catalog.streams) {
    const inputs = streamInputs(spec);
    const id = streamId(inputs);
    record({ kind: "stream", id, ...(await applyOne(settings, streamOps, id, inputs)) });
  }
  for (const spec of catalog.consumers) {
    const inputs = consumerInputs(spec);
    const id = consumerId(inputs);
    record({ kind: "consumer", id, ...(await applyOne(settings, consumerOps, id, inputs)) });
  }
  const counts = { create: 0, update: 0, replace: 0, unchanged: 0 };
  for (const a of actions) counts[a.action]++;
  const drift = compareCatalog(catalog, await readLiveState(await jetStreamManager(connection)));
  const extras = drift.filter((d) => d.status === "extra").map((d) => ({ kind: d.kind, id: d.id }));
  return { actions, counts, extras };
}
