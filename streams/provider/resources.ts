// The Pulumi resources for streams and consumers: dynamic resources over the providers of stream.ts and consumer.ts,
// typed `pulumi-nodejs:dynamic/fluo-queue:Stream` and `.../fluo-queue:Consumer` in previews and state.

import * as pulumi from "@pulumi/pulumi";
import type { ConsumerInputs } from "./consumer";
import type { StreamInputs } from "./stream";

type Args<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/**
 * The module the serialized providers load in the provider host, relative to the project root (the host's
 * working directory). It is written into every Stream's and Consumer's state: state from earlier runs loads
 * this path to update and delete its resources: it is streams/provider/hostEntry.ts, which only re-exports
 * `streamProvider` and `consumerProvider`, so the provider code can move without breaking existing state.
 */
export const PROVIDER_MODULE = "streams/provider/hostEntry.ts";

type ProviderFactory = "streamProvider" | "consumerProvider";
type AnyProvider = Required<pulumi.dynamic.ResourceProvider>;
type Method = keyof AnyProvider;

/**
 * What the SDK serializes into each resource's `__provider` (twice: inputs and outputs): a loader of about
 * 2 KiB instead of the provider's whole closure (60 KiB, 108 MB of state for 300 streams x 5 consumers). In the
 * provider host it loads PROVIDER_MODULE from the checkout with tsx (the host runs plain node) and forwards
 * every call, so:
 * - the provider code that runs is the checkout's, also for resources written by older code (their delete
 *   included), and a change of the provider's code alone changes no state and shows in no preview;
 * - nothing of the program's module graph (config, secrets) is captured.
 * Only literals and globals may appear in here: the closure is serialized by value. Kept terse on purpose:
 * every character is stored twice per resource.
 */
function loadingProvider<I, O>(factory: ProviderFactory): pulumi.dynamic.ResourceProvider<I, O> {
  // Short names on purpose: this text is the state's largest part. e = entry module, f = factory, m = method.
  const e = PROVIDER_MODULE;
  const f = factory;
  const c = (m: Method, a: unknown[]): unknown => {
    // One module instance and one provider per kind per host process; both kinds share the connection cache.
    type Loaded = { fluoQueueProviders?: Record<ProviderFactory, () => AnyProvider>; fluoQueueProvider?: Partial<Record<ProviderFactory, AnyProvider>> };
    const g = globalThis as Loaded;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const r = (require("node:path") as typeof import("node:path")).resolve;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    g.fluoQueueProviders ??= (require("tsx/cjs/api") as { require(id: string, from: string): never }).require(r(e), r("package.json"));
    const p = ((g.fluoQueueProvider ??= {})[f] ??= g.fluoQueueProviders[f]());
    return (p[m] as (...a: unknown[]) => unknown).apply(p, a);
  };
  return {
    configure: async (...a) => c("configure", a),
    check: async (...a) => c("check", a),
    diff: async (...a) => c("diff", a),
    create: async (...a) => c("create", a),
    read: async (...a) => c("read", a),
    update: async (...a) => c("update", a),
    delete: async (...a) => c("delete", a),
  } as pulumi.dynamic.ResourceProvider<I, O>;
}

// One provider object per kind for the whole program: the SDK serializes a provider once per object, and the
// provider host then configures it (and opens its connection) once per process.
export const STREAM_PROVIDER = loadingProvider<StreamInputs, StreamInputs & { created: string }>("streamProvider");
export const CONSUMER_PROVIDER = loadingProvider<ConsumerInputs, ConsumerInputs & { created: string }>("consumerProvider");

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
