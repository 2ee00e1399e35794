// The providers as `pulumi up` really runs them: the `__provider` texts the program registers, loaded by the
// SDK's dynamic provider host in its own process and driven over gRPC with the engine's calls (Configure with
// the stack config, then Check, Diff, Create, Read, Update, Delete), also for state written by earlier texts.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { PROVIDER_TEXTS, earlierProviderTexts, ProviderHost, secretValue, UNKNOWN } from "./providerHost.testkit";
import { startProvisioningCluster, type ProvisioningCluster } from "./provisioningCluster.testkit";
import { consumerInputs } from "./consumer";
import { streamInputs } from "./stream";
import { PROVIDER_MODULE } from "./resources";

const root = join(__dirname, "..", "..");

let live: ProvisioningCluster;
let host: ProviderHost;
const texts = PROVIDER_TEXTS;

beforeAll(async () => {
  live = await startProvisioningCluster(3);
  host = await ProviderHost.start(root);
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await live?.stop();
});

const STREAM_URN = "urn:pulumi:test::fluo-queue::fluo-queue:streams:Catalog$pulumi-nodejs:dynamic/fluo-queue:Stream::stream-HOSTED";
const CONSUMER_URN = "urn:pulumi:test::fluo-queue::fluo-queue:streams:Catalog$pulumi-nodejs:dynamic/fluo-queue:Consumer::consumer-HOSTED-w";

/** An R3 limits stream on `test.<name>.>`, as a catalog entry normalised by the provider. */
const testStream = (name: string) =>
  streamInputs({
    name,
    subjects: [`test.${name.toLowerCase()}.>`],
    retention: "limits",
    storage: "file",
    replicas: 3,
    maxAge: "24h",
    maxBytes: "32MiB",
    discard: "old",
  });

describe("provider texts in state", () => {
  it("are short loaders of the checkout's provider module: no secret, no captured provider code", () => {
    for (const text of [texts.stream, texts.consumer]) {
      expect(text).toMatch(/^\/\/ fluo-queue: loads \w+ from streams\/provider\/hostEntry\.ts .*\nexports\.handler=/);
      for (const password of Object.values(live.passwords)) expect(text).not.toContain(password);
      const required = [...text.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
      expect(required.sort()).toEqual(["node:path", "tsx/cjs/api"]);
      expect(text).toContain(JSON.stringify(PROVIDER_MODULE));
      // Stored twice per resource: 60 KiB for the provider's closure, 2.5 KiB for the earlier forwarding closure.
      expect(text.length).toBeLessThan(400);
    }
  });
});

describe("providers hosted by the SDK's dynamic provider host", () => {
  const declared = testStream("HOSTED");
  const props = (inputs: object, provider: string): Record<string, unknown> => ({ ...inputs, __provider: provider });
  let id = "";
  let outs: Record<string, unknown> = {};

  it("configures from the stack config (secret password unwrapped by the host)", async () => {
    const config = (password: string) => ({
      "fluo-queue:natsUrl": live.provisioner.servers.join(","),
      "fluo-queue:provisionerPassword": secretValue(password),
      "fluo-queue:allowDestroy": "[]",
      "fluo-queue:environment": "dev",
    });
    await host.configure(config(live.provisioner.password));
    // The host configures a provider once per process (the SDK caches it), so the proof is the next operation:
    // it logs in with what configure received (no natsUrl or password: it fails naming the missing key; a wrong
    // one: "Authorization Violation") and reads an absent stream as an empty id.
    const absent = await host.read("NO_SUCH_STREAM", STREAM_URN, props(declared, texts.stream));
    expect(absent.id).toBe("");
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

describe("state written by the earlier loader (a serialized forwarding closure, up to 2026-11)", () => {
  const earlier = earlierProviderTexts();
  const declared = testStream("EARLIER");
  const urn = STREAM_URN.replace("stream-HOSTED", "stream-EARLIER");
  const consumerUrn = CONSUMER_URN.replace("consumer-HOSTED-w", "consumer-EARLIER-w");
  const consumer = consumerInputs({ stream: "EARLIER", name: "w", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 4 });

  it("shows no change after the upgrade, updates through the new text, and deletes through the old one", async () => {
    expect(earlier.stream).toContain("__provider");
    expect(earlier.stream).not.toBe(texts.stream);
    const created = await host.create(urn, { ...declared, __provider: earlier.stream });
    const createdConsumer = await host.create(consumerUrn, { ...consumer, __provider: earlier.consumer });
    // The upgrade's preview: olds carry the earlier text, news the new one; nothing else differs.
    expect((await host.diff(created.id, urn, created.properties, { ...declared, __provider: texts.stream })).changes).toBe("none");
    expect((await host.diff(createdConsumer.id, consumerUrn, createdConsumer.properties, { ...consumer, __provider: texts.consumer })).changes).toBe("none");
    const updated = await host.update(created.id, urn, created.properties, { ...declared, maxAge: "2d", __provider: texts.stream });
    expect(updated.maxAge).toBe("2d");
    expect(updated.__provider).toBe(texts.stream);
    // A resource the upgrade did not touch keeps the earlier text in its outputs: refresh and delete load it.
    expect((await host.read(createdConsumer.id, consumerUrn, createdConsumer.properties)).properties).toEqual(createdConsumer.properties);
    await host.delete(createdConsumer.id, consumerUrn, createdConsumer.properties);
    await host.delete(created.id, urn, { ...created.properties, __provider: earlier.stream });
    expect((await host.read(created.id, urn, updated)).id).toBe("");
  });
});
