// The Stream and Consumer providers exactly as the SDK stores them in state (`__provider`, the loaders of
// streams/provider/resources.ts): serialized with
// pulumi.runtime.serializeFunction, as pulumi.dynamic.Resource does. Run on tsc output (vitest's transform
// changes what a closure captures): `node out/.../streams/provider/serializedProviders.js` prints them as JSON.

import * as pulumi from "@pulumi/pulumi";
import { CONSUMER_PROVIDER, STREAM_PROVIDER } from "./resources";

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
  return { stream: await serialize(STREAM_PROVIDER), consumer: await serialize(CONSUMER_PROVIDER) };
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
