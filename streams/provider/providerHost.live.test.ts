// The providers as `pulumi up` really runs them: tsc-compiled, serialized by the SDK's closure serializer,
// loaded by the SDK's dynamic provider host in its own process and driven over gRPC with the engine's calls
// (Configure with the stack config, then Check, Diff, Create, Read, Update, Delete).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { compileProviders, ProviderHost, secretValue, UNKNOWN } from "./providerHost.testkit";
import { startProvisioningCluster, type ProvisioningCluster } from "./provisioningCluster.testkit";
import { consumerInputs } from "./consumer";
import { streamInputs } from "./stream";
import type { SerializedProviders } from "./serializedProviders";

const root = join(__dirname, "..", "..");
// Inside the project (excluded from tsc and vitest) so the compiled provider resolves `nats` from node_modules.
const outDir = join(root, "out", `provider-host-${process.pid}`);

let live: ProvisioningCluster;
let host: ProviderHost;
let texts: SerializedProviders;

beforeAll(async () => {
  texts = compileProviders(root, outDir);
  live = await startProvisioningCluster(3);
  host = await ProviderHost.start(root);
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await live?.stop();
  rmSync(outDir, { recursive: true, force: true });
});

const STREAM_URN = "urn:pulumi:test::fluo-queue::fluo-queue:streams:Catalog$pulumi-nodejs:dynamic/fluo-queue:Stream::stream-HOSTED";
const CONSUMER_URN = "urn:pulumi:test::fluo-queue::fluo-queue:streams:Catalog$pulumi-nodejs:dynamic/fluo-queue:Consumer::consumer-HOSTED-w";

describe("serialized providers", () => {
  it("contain no secret and require only package names", () => {
    for (const text of [texts.stream, texts.consumer]) {
      expect(text).toMatch(/^exports\.handler = /);
      for (const password of Object.values(live.passwords)) expect(text).not.toContain(password);
      expect(text).not.toMatch(/provisionerPassword"?\s*[:=]\s*"/);
      const required = [...text.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
      expect(required.length).toBeGreaterThan(0);
      for (const name of required) expect(name).toMatch(/^(@[a-z0-9-]+\/)?[a-z0-9][a-z0-9._-]*$/);
      // zod schemas do not survive serialization; the provider must not drag them in.
      expect(text).not.toContain("ZodObject");
    }
  });
});

describe("providers hosted by the SDK's dynamic provider host", () => {
  const declared = streamInputs({
    name: "HOSTED",
    subjects: ["test.hosted.>"],
    retention: "limits",
    storage: "file",
    replicas: 3,
    maxAge: "24h",
    maxBytes: "32MiB",
    discard: "old",
  });
  const props = (inputs: object, provider: string): Record<string, unknown> => ({ ...inputs, __provider: provider });
  let id = "";
  let outs: Record<string, unknown> = {};

  it("configures from the stack config (secret password unwrapped by the host)", async () => {
    await host.configure({
      "fluo-queue:natsUrl": live.provisioner.servers.join(","),
      "fluo-queue:provisionerPassword": secretValue(live.provisioner.password),
      "fluo-queue:allowDestroy": "[]",
      "fluo-queue:environment": "dev",
    });
  });

  it("Check normalises and lets preview's unknown values through", async () => {
    const checked = await host.check(STREAM_URN, {}, props({ ...declared, maxAge: "1440m" }, texts.stream));
    expect(checked.failures).toEqual([]);
    expect(checked.inputs.maxAge).toBe("1d");
    expect(checked.inputs.__provider).toBe(texts.stream);
    const preview = await host.check(STREAM_URN, {}, props({ ...declared, subjects: UNKNOWN }, texts.stream));
    expect(preview.failures).toEqual([]);
    const bad = await host.check(STREAM_URN, {}, props({ ...declared, maxBytes: "lots" }, texts.stream));
    expect(bad.failures[0].reason).toMatch(/lots/);
  });

  it("Create, then a no-op Diff and a Read equal to the outputs (refresh shows nothing)", async () => {
    const created = await host.create(STREAM_URN, props(declared, texts.stream));
    id = created.id;
    outs = created.properties;
    expect(id).toBe("HOSTED");
    expect(outs).toMatchObject({ ...declared, __provider: texts.stream });
    expect(typeof outs.created).toBe("string");
    expect((await host.diff(id, STREAM_URN, outs, props(declared, texts.stream))).changes).toBe("none");
    const read = await host.read(id, STREAM_URN, outs);
    expect(read.id).toBe(id);
    expect(read.properties).toEqual(outs);
  });

  it("Diff/Update in place, and Diff asks for replacement (delete first) of an immutable field", async () => {
    const news = props({ ...declared, maxAge: "2d" }, texts.stream);
    expect(await host.diff(id, STREAM_URN, outs, news)).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: true });
    outs = await host.update(id, STREAM_URN, outs, news);
    expect(outs.maxAge).toBe("2d");
    expect((await host.read(id, STREAM_URN, outs)).properties.maxAge).toBe("2d");
    // To or from workqueue is a replace on every server line (limits <-> interest is an update from 2.10).
    const replace = await host.diff(id, STREAM_URN, outs, props({ ...declared, maxAge: "2d", retention: "workqueue" }, texts.stream));
    expect(replace).toEqual({ changes: "some", replaces: ["retention"], deleteBeforeReplace: true });
  });

  it("Consumer Create/Diff/Read/Delete share the host's single connection", async () => {
    const consumer = consumerInputs({ stream: "HOSTED", name: "w", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 4 });
    const created = await host.create(CONSUMER_URN, props(consumer, texts.consumer));
    expect(created.id).toBe("HOSTED/w");
    expect((await host.diff(created.id, CONSUMER_URN, created.properties, props(consumer, texts.consumer))).changes).toBe("none");
    expect((await host.read(created.id, CONSUMER_URN, created.properties)).properties).toEqual(created.properties);
    const connz = (await (await fetch(`${live.cluster.nodes[0].monitorUrl}/connz?auth=true`)).json()) as {
      connections?: Array<{ name?: string }>;
    };
    let hostConnections = (connz.connections ?? []).filter((c) => c.name === "fluo-queue-provisioner").length;
    for (const node of live.cluster.nodes.slice(1)) {
      const other = (await (await fetch(`${node.monitorUrl}/connz`)).json()) as { connections?: Array<{ name?: string }> };
      hostConnections += (other.connections ?? []).filter((c) => c.name === "fluo-queue-provisioner").length;
    }
    expect(hostConnections).toBe(1);
    await host.delete(created.id, CONSUMER_URN, created.properties);
  });

  it("Delete removes the stream; Read then returns an empty id", async () => {
    await host.delete(id, STREAM_URN, outs);
    const read = await host.read(id, STREAM_URN, outs);
    expect(read.id).toBe("");
  });
});
