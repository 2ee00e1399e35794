// The provider's own create of a catalog, as the engine runs independent resources (up to `parallel` operations
// in flight over the one shared connection): bench:provider's create phase, and bench:engine's baseline for
// what the engine adds on top (bench/engineReport.ts engineRatio).

import { consumerOps, type ConsumerInputs, type ConsumerOutputs } from "../streams/provider/consumer";
import { streamOps, type StreamInputs, type StreamOutputs } from "../streams/provider/stream";
import type { ProviderSettings } from "../streams/provider/settings";

/** Runs `task` over `items` with at most `parallel` in flight, as the engine runs independent resources. */
export async function pool<T>(items: readonly T[], parallel: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

export interface Created {
  readonly streams: Map<string, StreamOutputs>;
  /** By id, "<stream>/<name>". */
  readonly consumers: Map<string, ConsumerOutputs>;
}

/** Creates every stream, then every consumer (a consumer needs its stream, as the engine's dependencies say). */
export async function createThroughProvider(
  settings: ProviderSettings,
  streams: readonly StreamInputs[],
  consumers: readonly ConsumerInputs[],
  parallel: number,
): Promise<Created> {
  const created: Created = { streams: new Map(), consumers: new Map() };
  await pool(streams, parallel, async (s) => {
    created.streams.set(s.name, (await streamOps.create(settings, s)).outs);
  });
  await pool(consumers, parallel, async (c) => {
    const made = await consumerOps.create(settings, c);
    created.consumers.set(made.id, made.outs);
  });
  return created;
}
