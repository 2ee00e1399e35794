// streams.json: the exact JetStream API configs the provider sends for the catalog (durations in nanoseconds,
// sizes in bytes), keyed by stream and consumer name, so a reviewer diffs what the server will receive.

import { consumerApiConfig, streamApiConfig } from "./fields";
import type { Catalog } from "./spec";

export interface CatalogApiConfigs {
  readonly streams: Record<string, unknown>;
  readonly consumers: Record<string, Record<string, unknown>>;
}

export function catalogApiConfigs(catalog: Catalog): CatalogApiConfigs {
  const streams: Record<string, unknown> = {};
  const consumers: Record<string, Record<string, unknown>> = {};
  for (const s of catalog.streams) {
    streams[s.name] = streamApiConfig(s);
    consumers[s.name] = {};
  }
  for (const c of catalog.consumers) {
    (consumers[c.stream] ??= {})[c.name] = consumerApiConfig(c);
  }
  return { streams, consumers };
}

/** Deterministic 2-space JSON (catalog order, field-table order), ending in a newline. */
export function renderStreamsJson(catalog: Catalog): string {
  return `${JSON.stringify(catalogApiConfigs(catalog), null, 2)}\n`;
}
