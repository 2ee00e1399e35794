// A Pulumi program for bench:engine: the stream catalog component (the same Stream/Consumer resources and
// provider as index.ts) over the synthetic catalog, without the Kubernetes side. Size from FLUO_BENCH_STREAMS
// and FLUO_BENCH_REPLICAS (environment, because stack config keys outside the schema are refused).

import * as pulumi from "@pulumi/pulumi";
import { stackConfigFromPulumi } from "../infra/pulumiStackConfig";
import { StreamCatalog } from "../streams/provider/catalogComponent";
import { syntheticCatalog } from "./syntheticCatalog";

const streams = Number(process.env.FLUO_BENCH_STREAMS ?? "300");
const replicas = Number(process.env.FLUO_BENCH_REPLICAS ?? "1");

/** What the streams wait for in index.ts (the StatefulSet); here nothing. */
class Placeholder extends pulumi.ComponentResource {
  constructor() {
    super("fluo-queue:bench:Cluster", "cluster", {});
    this.registerOutputs({});
  }
}

const catalog = new StreamCatalog("streams", {
  config: stackConfigFromPulumi(),
  catalog: syntheticCatalog(streams, replicas),
  cluster: new Placeholder(),
});

export const managedStreams = Object.keys(catalog.streams).length;
export const managedConsumers = Object.keys(catalog.consumers).length;
