// The Pulumi resources for streams and consumers: dynamic resources over the providers of streams/provider.ts,
// typed `pulumi-nodejs:dynamic/fluo-queue:Stream` and `.../fluo-queue:Consumer` in previews and state.

import * as pulumi from "@pulumi/pulumi";
import type { ConsumerInputs, StreamInputs } from "./provider";

type Args<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/**
 * The module the serialized providers load in the provider host, relative to the project root (the host's
 * working directory). It is written into every Stream's and Consumer's state: state from earlier runs loads
 * this path to update and delete its resources, so if the provider code moves, leave a module here that
 * re-exports `streamProvider` and `consumerProvider`.
 */
export const PROVIDER_MODULE = "streams/provider.ts";

type ProviderFactory = "streamProvider" | "consumerProvider";
type AnyProvider = pulumi.dynamic.ResourceProvider;

/**
 * What the SDK serializes into each resource's `__provider`: a loader of a few hundred bytes instead of the
 * provider's whole closure (60 KiB each, 108 MB of state for 300 streams x 5 consumers). In the provider host it
 * loads PROVIDER_MODULE from the checkout with tsx (the host runs plain node) and forwards every call, so:
 * - the provider code that runs is the checkout's, also for resources written by older code (their delete
 *   included), and a change of the provider's code alone changes no state and no preview;
 * - nothing of the program's module graph (config, secrets) is captured.
 * Only literals and globals may appear in here: the closure is serialized by value.
 */
function loadingProvider<I, O>(factory: ProviderFactory): pulumi.dynamic.ResourceProvider<I, O> {
  const entry = PROVIDER_MODULE;
  const load = (): AnyProvider => {
    // One module instance per host process for both kinds: they share the NATS connection cache on globalThis.
    const key = Symbol.for("fluo-queue.providerModule");
    const holder = globalThis as unknown as Record<symbol, Record<ProviderFactory, () => AnyProvider> | undefined>;
    let providerModule = holder[key];
    if (!providerModule) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const path = require("node:path") as typeof import("node:path");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const tsx = require("tsx/cjs/api") as { require(id: string, fromFile: string): unknown };
      providerModule = tsx.require(path.resolve(entry), path.resolve("package.json")) as Record<ProviderFactory, () => AnyProvider>;
      holder[key] = providerModule;
    }
    const instances = `fluo-queue.provider.${factory}`;
    const cached = (globalThis as unknown as Record<string, AnyProvider | undefined>)[instances];
    if (cached) return cached;
    const provider = providerModule[factory]();
    (globalThis as unknown as Record<string, AnyProvider>)[instances] = provider;
    return provider;
  };
  const call = <K extends keyof AnyProvider>(method: K): NonNullable<AnyProvider[K]> => {
    const fn = load()[method];
    if (!fn) throw new Error(`${entry}: ${factory}() has no ${method}()`);
    return fn.bind(load()) as NonNullable<AnyProvider[K]>;
  };
  return {
    configure: async (req) => call("configure")(req),
    check: async (olds, news) => call("check")(olds, news),
    diff: async (id, olds, news) => call("diff")(id, olds, news),
    create: async (inputs) => call("create")(inputs),
    read: async (id, props) => call("read")(id, props),
    update: async (id, olds, news) => call("update")(id, olds, news),
    delete: async (id, props) => call("delete")(id, props),
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
