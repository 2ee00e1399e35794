// The stream catalog as a Pulumi component: one Stream per declared stream, one Consumer per consumer, created
// once the NATS StatefulSet is ready, managed over `fluo-queue:natsUrl` as fluo-provisioner.

import * as pulumi from "@pulumi/pulumi";
import { provisionerCredentialKey, type StackConfig } from "../../infra/stackConfig";
import type { Catalog } from "../spec";
import { consumerId, consumerInputs } from "./consumer";
import { streamInputs } from "./stream";
import { Consumer, Stream } from "./resources";

export interface StreamCatalogArgs {
  readonly config: StackConfig;
  readonly catalog: Catalog;
  /** Streams wait for it (the NATS StatefulSet: Pulumi waits for its pods to be ready). */
  readonly cluster: pulumi.Resource;
}

export class StreamCatalog extends pulumi.ComponentResource {
  public readonly streams: Readonly<Record<string, Stream>>;
  /** By `<stream>/<durable>`. */
  public readonly consumers: Readonly<Record<string, Consumer>>;

  constructor(name: string, args: StreamCatalogArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fluo-queue:streams:Catalog", name, {}, opts);
    if (!args.config.natsUrl) throw new Error("StreamCatalog needs fluo-queue:natsUrl");
    // The provisioner's credential is in stack config: parseStackConfig refuses natsUrl without it.

    const streams: Record<string, Stream> = {};
    for (const spec of args.catalog.streams) {
      streams[spec.name] = new Stream(`stream-${spec.name}`, streamInputs(spec), {
        parent: this,
        dependsOn: [args.cluster],
        protect: args.config.protect,
      });
    }
    const consumers: Record<string, Consumer> = {};
    for (const spec of args.catalog.consumers) {
      const stream = streams[spec.stream];
      const inputs = consumerInputs(spec);
      consumers[consumerId(inputs)] = new Consumer(`consumer-${spec.stream}-${spec.name}`, inputs, {
        parent: this,
        dependsOn: [stream],
        deletedWith: stream,
        replaceWith: [stream],
      });
    }
    this.streams = streams;
    this.consumers = consumers;
    this.registerOutputs({ streams: Object.keys(streams), consumers: Object.keys(consumers) });
  }
}

/**
 * The stream catalog when `fluo-queue:natsUrl` says how to reach NATS; otherwise a warning that says how to
 * enable stream management, and nothing registered (the cluster alone can still be deployed).
 */
export function managedStreamCatalog(name: string, args: StreamCatalogArgs): StreamCatalog | undefined {
  if (args.config.natsUrl) return new StreamCatalog(name, args);
  pulumi.log.warn(
    "fluo-queue:natsUrl is not set: streams and consumers are NOT managed by this stack. To manage them, make " +
      `NATS reachable (e.g. \`kubectl -n ${args.config.namespace} port-forward svc/nats 4222:4222\`) and run` +
      " `pulumi config set fluo-queue:natsUrl " +
      "nats://127.0.0.1:4222` plus `pulumi config set --secret " +
      `fluo-queue:${provisionerCredentialKey(args.config.authentication)} <${args.config.authentication === "nkey" ? "seed" : "password"}>\` (README: Reaching NATS from pulumi up).`,
  );
  return undefined;
}
