// The whole program (index.ts) under Pulumi mocks with fluo-queue:natsUrl set: the catalog's streams and
// consumers are registered as dynamic resources under the Catalog component, after the StatefulSet.

import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type ProgramRun } from "./pulumiProgram.testkit";
import { catalogForStack } from "../streams/catalog";
import { readStackConfig } from "../infra/stackFile";

const STREAM = "pulumi-nodejs:dynamic/fluo-queue:Stream";
const CONSUMER = "pulumi-nodejs:dynamic/fluo-queue:Consumer";

let run: ProgramRun;
const catalog = catalogForStack(readStackConfig("prod"));

beforeAll(async () => {
  run = await runProgram("prod", { natsUrl: "nats://127.0.0.1:4222", provisionerPassword: "not-a-real-password" });
  // Dynamic resources register only after their provider is serialized.
  for (let i = 0; i < 50 && run.byType(CONSUMER).length < catalog.consumers.length; i++) await new Promise((r) => setTimeout(r, 100));
}, 60_000);

describe("program with fluo-queue:natsUrl", () => {
  it("registers one protected Stream per catalog stream, after the StatefulSet, under the Catalog", () => {
    expect(run.byType(STREAM).map((s) => s.name).sort()).toEqual(catalog.streams.map((s) => `stream-${s.name}`).sort());
    for (const stream of run.byType(STREAM)) {
      expect(stream.dependsOn).toContain("statefulset");
      expect(stream.parentName).toBe("streams");
      expect(stream.protect).toBe(true);
      expect(typeof stream.inputs.__provider).toBe("string");
      expect(stream.inputs.__provider as string).not.toContain("not-a-real-password");
    }
    expect(run.one("fluo-queue:streams:Catalog", "streams").type).toBe("fluo-queue:streams:Catalog");
  });

  it("gives Streams readable, normalised inputs without the publishers", () => {
    const jobs = run.one(STREAM, "stream-JOBS").inputs;
    expect(jobs).toMatchObject({ name: "JOBS", retention: "workqueue", storage: "file" });
    expect(typeof jobs.maxAge).toBe("string");
    expect(jobs).not.toHaveProperty("publishers");
  });

  it("registers one Consumer per catalog consumer, depending on its stream", () => {
    expect(run.byType(CONSUMER).map((c) => c.name).sort()).toEqual(catalog.consumers.map((c) => `consumer-${c.stream}-${c.name}`).sort());
    for (const spec of catalog.consumers) {
      const consumer = run.one(CONSUMER, `consumer-${spec.stream}-${spec.name}`);
      expect(consumer.dependsOn).toEqual([`stream-${spec.stream}`]);
      expect(consumer.inputs).toMatchObject({ stream: spec.stream, name: spec.name });
      expect(consumer.inputs).not.toHaveProperty("consumer");
    }
  });

  it("exports the managed stream names", () => {
    expect(run.outputs.managedStreams).toEqual(catalog.streams.map((s) => s.name));
  });
});
