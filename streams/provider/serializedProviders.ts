// The Stream and Consumer providers exactly as the SDK stores them in state (`__provider`): serialized with
// pulumi.runtime.serializeFunction, as pulumi.dynamic.Resource does. Run on tsc output (vitest's transform
// changes what a closure captures): `node out/.../streams/provider/serializedProviders.js` prints them as JSON.

import * as pulumi from "@pulumi/pulumi";
import { consumerProvider } from "./consumer";
import { streamProvider } from "./stream";

export interface SerializedProviders {
  readonly stream: string;
  readonly consumer: string;
}

async function serialize(provider: object): Promise<string> {
  // The same call as @pulumi/pulumi/dynamic's serializeProvider.
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return serialized.text;
}

export async function serializedProviders(): Promise<SerializedProviders> {
  return { stream: await serialize(streamProvider()), consumer: await serialize(consumerProvider()) };
}

if (require.main === module) {
  serializedProviders().then(
    (texts) => process.stdout.write(JSON.stringify(texts)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
