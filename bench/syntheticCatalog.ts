// The benchmarks' synthetic catalog: N small limits streams with 5 filtered pull consumers each, shaped like
// the real catalog's resources (bench:provider drives it through the provider, bench:engine through Pulumi).

import type { Catalog } from "../streams/spec";

export const CONSUMERS_PER_STREAM = 5;

export function syntheticCatalog(streams: number, replicas: number): Catalog {
  const catalog: Catalog = { streams: [], consumers: [] };
  for (let i = 0; i < streams; i++) {
    const name = `BENCH_${i}`;
    catalog.streams.push({
      name,
      subjects: [`bench.${i}.>`],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "1h",
      maxBytes: "1MiB",
      discard: "old",
      publishers: [],
    });
    for (let j = 0; j < CONSUMERS_PER_STREAM; j++) {
      catalog.consumers.push({
        stream: name,
        name: `c${j}`,
        filterSubject: `bench.${i}.c${j}`,
        deliverPolicy: "all",
        ackPolicy: "explicit",
        ackWait: "30s",
        maxDeliver: 5,
        consumer: "fluo-workers",
      });
    }
  }
  return catalog;
}
