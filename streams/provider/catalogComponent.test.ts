// The Catalog component's resource options under Pulumi mocks: consumers go (and are replaced) with their
// stream, streams wait for the cluster and are protected when the stack says so, and a missing provisioner
// password stops the program with the fix.

import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig } from "../../infra/stackConfig";
import { StreamCatalog } from "./catalogComponent";
import type { Catalog } from "../spec";

interface Seen {
  readonly type: string;
  readonly name: string;
  readonly protect: boolean;
  readonly dependsOn: string[];
  readonly deletedWith?: string;
  readonly replaceWith: string[];
}

const nameOf = (r: unknown): string => (r as { __name?: string }).__name ?? "?";
const seen: Seen[] = [];

const catalog: Catalog = {
  streams: [
    { name: "A", subjects: ["a.>"], retention: "limits", storage: "file", replicas: 3, maxAge: "1h", maxBytes: "1MiB", discard: "old", publishers: ["fluo-bff"] },
  ],
  consumers: [
    { stream: "A", name: "c", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 3, consumer: "fluo-workers" },
  ],
};

class FakeCluster extends pulumi.CustomResource {
  constructor(name: string) {
    super("kubernetes:apps/v1:StatefulSet", name, {});
  }
}


beforeAll(async () => {
  await pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
    "fluo-queue",
    "test",
    false,
  );
  const config = parseStackConfig("test", { natsUrl: "nats://127.0.0.1:4222", provisionerPassword: "pw", protect: true });
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      seen.push({
        type: t.type,
        name: t.name,
        protect: t.opts.protect === true,
        dependsOn: (Array.isArray(t.opts.dependsOn) ? t.opts.dependsOn : []).map(nameOf),
        deletedWith: t.opts.deletedWith ? nameOf(t.opts.deletedWith) : undefined,
        replaceWith: ((t.opts as { replaceWith?: pulumi.Resource[] }).replaceWith ?? []).map(nameOf),
      });
      return undefined;
    });
    const cluster = new FakeCluster("statefulset");
    new StreamCatalog("streams", { config, catalog, cluster });
    return undefined;
  });
  for (let i = 0; i < 50 && !seen.some((s) => s.name === "consumer-A-c"); i++) await new Promise((r) => setTimeout(r, 100));
});

describe("StreamCatalog", () => {
  it("makes streams wait for the cluster and protects them when config.protect", () => {
    const stream = seen.find((s) => s.name === "stream-A")!;
    expect(stream.type).toBe("pulumi-nodejs:dynamic/fluo-queue:Stream");
    expect(stream.dependsOn).toEqual(["statefulset"]);
    expect(stream.protect).toBe(true);
  });

  it("deletes and replaces consumers with their stream", () => {
    const consumer = seen.find((s) => s.name === "consumer-A-c")!;
    expect(consumer.type).toBe("pulumi-nodejs:dynamic/fluo-queue:Consumer");
    expect(consumer).toMatchObject({ dependsOn: ["stream-A"], deletedWith: "stream-A", replaceWith: ["stream-A"] });
  });

  it("needs no credential check of its own: a stack with natsUrl and no provisioner credential is refused as config", () => {
    expect(() => parseStackConfig("test", { natsUrl: "nats://127.0.0.1:4222" })).toThrow(ConfigError);
    expect(() => parseStackConfig("test", { natsUrl: "nats://127.0.0.1:4222", authentication: "nkey" })).toThrow(/provisionerSeed is not set/);
  });
});
