// The Pulumi resources for streams and consumers: dynamic resources over the providers of stream.ts and consumer.ts,
// typed `pulumi-nodejs:dynamic/fluo-queue:Stream` and `.../fluo-queue:Consumer` in previews and state.

import * as pulumi from "@pulumi/pulumi";
import type { ConsumerInputs } from "./consumer";
import type { StreamInputs } from "./stream";
import type { StorageGuardInputs } from "../../infra/storageGuard";

type Args<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/**
 * The module the serialized providers load in the provider host, relative to the project root (the host's
 * working directory). It is written into every Stream's and Consumer's state: state from earlier runs loads
 * this path to update and delete its resources: it is streams/provider/hostEntry.ts, which only re-exports
 * `streamProvider` and `consumerProvider`, so the provider code can move without breaking existing state.
 */
export const PROVIDER_MODULE = "streams/provider/hostEntry.ts";

type ProviderFactory = "streamProvider" | "consumerProvider" | "storageGuardProvider";

/**
 * The text of each resource's `__provider`: the module the SDK's dynamic provider host loads (with
 * require-from-string, from the project root) and whose `handler()` returns the provider. Stored twice per
 * resource (inputs and outputs), so it is hand-written and short (about 300 bytes) instead of what
 * pulumi.dynamic.Resource stores, a serialized closure: 60 KiB for the provider itself (108 MB of state at
 * 300 streams x 5 consumers), 2.5 KiB for the forwarding closure an earlier version of this file stored.
 * It loads PROVIDER_MODULE from the checkout with tsx (the host runs plain node), so:
 * - the provider code that runs is the checkout's, also for resources written by older code (their delete
 *   included), and a change of the provider's code alone changes no state and shows in no preview;
 * - nothing of the program (config, secrets) is in state: the provider gets its settings in configure().
 * One module instance and one provider per kind per host process, shared with the earlier loader (same
 * globals), so resources written by either configure and use the same provider and connection.
 * Changing this text changes every resource's `__provider` input, which the providers' diff ignores (an upgrade
 * shows no change); state from every earlier text must keep loading.
 */
export function providerLoaderText(factory: ProviderFactory): string {
  const entry = JSON.stringify(PROVIDER_MODULE);
  return (
    `// fluo-queue: loads ${factory} from ${PROVIDER_MODULE} (streams/provider/resources.ts)\n` +
    `exports.handler=()=>{const r=require("node:path").resolve,g=globalThis;` +
    `g.fluoQueueProviders??=require("tsx/cjs/api").require(r(${entry}),r("package.json"));` +
    `return (g.fluoQueueProvider??={}).${factory}??=g.fluoQueueProviders.${factory}()};\n`
  );
}

export const STREAM_PROVIDER_TEXT = providerLoaderText("streamProvider");
export const CONSUMER_PROVIDER_TEXT = providerLoaderText("consumerProvider");
export const STORAGE_GUARD_PROVIDER_TEXT = providerLoaderText("storageGuardProvider");

/**
 * What pulumi.dynamic.Resource registers, minus the closure serialization: the same type token
 * (`pulumi-nodejs:dynamic/<module>:<type>`, so URNs are unchanged) served by the same `pulumi-nodejs` provider,
 * with `__provider` set to our loader text.
 */
function dynamicType(type: "Stream" | "Consumer" | "StorageGuard"): string {
  return `pulumi-nodejs:dynamic/fluo-queue:${type}`;
}

/** A JetStream stream. Inputs are the readable spec (streams/spec.ts) without `publishers`. */
export class Stream extends pulumi.CustomResource {
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
    super(dynamicType("Stream"), name, { ...args, created: undefined, __provider: STREAM_PROVIDER_TEXT }, opts);
  }
}

/**
 * A durable pull consumer. Register it with `deletedWith` and `replaceWith` its Stream: deleting or replacing
 * the stream removes its consumers on the server, so Pulumi must neither delete them separately nor keep them.
 */
export class Consumer extends pulumi.CustomResource {
  declare public readonly stream: pulumi.Output<string>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly ackPolicy: pulumi.Output<string>;
  declare public readonly ackWait: pulumi.Output<string>;
  declare public readonly created: pulumi.Output<string>;

  constructor(name: string, args: Args<ConsumerInputs>, opts?: pulumi.CustomResourceOptions) {
    super(dynamicType("Consumer"), name, { ...args, created: undefined, __provider: CONSUMER_PROVIDER_TEXT }, opts);
  }
}

/**
 * The StatefulSet's volume settings, whose diff refuses a change unless the stack opts in (infra/storageGuard.ts).
 * It holds no secret and touches nothing: its only job is to fail a preview.
 */
export class StorageGuard extends pulumi.CustomResource {
  constructor(name: string, args: Args<StorageGuardInputs>, opts?: pulumi.CustomResourceOptions) {
    super(dynamicType("StorageGuard"), name, { ...args, __provider: STORAGE_GUARD_PROVIDER_TEXT }, opts);
  }
}
