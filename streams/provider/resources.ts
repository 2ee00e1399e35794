// The Pulumi resources for streams and consumers: dynamic resources over the providers of stream.ts and consumer.ts,
// typed `pulumi-nodejs:dynamic/fluo-queue:Stream` and `.../fluo-queue:Consumer` in previews and state.

import * as pulumi from "@pulumi/pulumi";
import { consumerProvider, type ConsumerInputs } from "./consumer";
import { streamProvider, type StreamInputs } from "./stream";

type Args<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

// One provider object per kind for the whole program: the SDK serializes a provider once per object, and the
// provider host then configures it (and opens its connection) once per process.
const STREAM_PROVIDER = streamProvider();
const CONSUMER_PROVIDER = consumerProvider();

/** A JetStream stream. Inputs are the readable spec (streams/spec.ts) without `publishers`. */
export class Stream extends pulumi.dynamic.Resource {
  // `declare`: the SDK fills outputs on the instance; a class field initialiser would overwrite them.
  declare public readonly name: pulumi.Output<string>;
  declare public readonly subjects: pulumi.Output<string[]>;
  declare public readonly retention: pulumi.Output<string>;
  declare public readonly storage: pulumi.Output<string>;
  declare public readonly replicas: pulumi.Output<number>;
  declare public readonly maxAge: pulumi.Output<string>;
  declare public readonly maxBytes: pulumi.Output<string>;
  /** Creation time on the server (stable: changes only when the stream is re-created). */
  declare public readonly created: pulumi.Output<string>;

  constructor(name: string, args: Args<StreamInputs>, opts?: pulumi.CustomResourceOptions) {
    super(STREAM_PROVIDER, name, { ...args, created: undefined }, opts, "fluo-queue", "Stream");
  }
}

/**
 * A durable pull consumer. Register it with `deletedWith` and `replaceWith` its Stream: deleting or replacing
 * the stream removes its consumers on the server, so Pulumi must neither delete them separately nor keep them.
 */
export class Consumer extends pulumi.dynamic.Resource {
  declare public readonly stream: pulumi.Output<string>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly ackPolicy: pulumi.Output<string>;
  declare public readonly ackWait: pulumi.Output<string>;
  declare public readonly created: pulumi.Output<string>;

  constructor(name: string, args: Args<ConsumerInputs>, opts?: pulumi.CustomResourceOptions) {
    super(CONSUMER_PROVIDER, name, { ...args, created: undefined }, opts, "fluo-queue", "Consumer");
  }
}
