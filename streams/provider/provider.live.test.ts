// The Stream and Consumer provider operations against a real 3-node nats-server cluster, logged in as the
// least-privilege fluo-provisioner, exactly as `pulumi up` would call them.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, connect, type NatsConnection } from "nats";
import { startProvisioningCluster, type ProvisioningCluster } from "./provisioningCluster.testkit";
import { closeConnections, DEFAULT_RETRY, jetStreamManager } from "./client";
import { streamApiConfig } from "../fields";
import { consumerInputs, consumerOps, type ConsumerInputs } from "./consumer";
import { settingsFromConfig, UNKNOWN, type ProviderSettings } from "./settings";
import { streamInputs, streamOps, type StreamInputs, type StreamOutputs } from "./stream";
import { applyCatalog } from "../ops/apply";
import type { Catalog } from "../spec";
import { ADMIN_TIMEOUT_MS, publishStored } from "../../test/natsProbe.testkit";

let live: ProvisioningCluster;
let settings: ProviderSettings;

beforeAll(async () => {
  live = await startProvisioningCluster(3);
  settings = { connection: live.provisioner, allowDestroy: [], timeoutMs: DEFAULT_RETRY.totalMs };
});

afterAll(async () => {
  await closeConnections();
  await live?.stop();
});

const orders = (over: Partial<StreamInputs> = {}): StreamInputs =>
  streamInputs({
    name: "ORDERS",
    description: "test orders",
    subjects: ["test.orders.>"],
    retention: "limits",
    storage: "file",
    replicas: 3,
    maxAge: "24h",
    maxBytes: "64MiB",
    discard: "old",
    ...over,
  });

async function separateConnection(user: "provisioner" | "publisher"): Promise<NatsConnection> {
  const s = user === "provisioner" ? live.provisioner : live.publisher;
  return connect({ servers: [...s.servers], user: s.user, pass: s.password, inboxPrefix: s.inboxPrefix });
}

async function publish(subject: string, count: number): Promise<void> {
  const nc = await separateConnection("publisher");
  const js = nc.jetstream();
  for (let i = 0; i < count; i++) await publishStored(js, subject, new TextEncoder().encode(`m${i}`));
  await nc.close();
}

describe("Stream provider on a live cluster", () => {
  let outs: StreamOutputs;

  it("check normalises readable inputs and passes preview's unknown values through", () => {
    const checked = streamOps.check(undefined, { ...orders(), maxAge: "1440m" });
    expect(checked.failures).toBeUndefined();
    expect(checked.inputs?.maxAge).toBe("1d");
    expect(checked.inputs?.duplicateWindow).toBe("2m");
    const unknown = streamOps.check(undefined, { ...orders(), subjects: UNKNOWN as unknown as string[] });
    expect(unknown.failures).toBeUndefined();
    expect(unknown.inputs?.subjects).toBe(UNKNOWN);
    const bad = streamOps.check(undefined, { ...orders(), maxAge: "a day" });
    expect(bad.failures?.[0].reason).toMatch(/a day/);
  });

  it("creates a stream and returns every input plus its creation time", async () => {
    const created = await streamOps.create(settings, orders());
    expect(created.id).toBe("ORDERS");
    outs = created.outs;
    expect(outs).toMatchObject(orders());
    expect(typeof outs.created).toBe("string");
    const info = await (await jetStreamManager(live.provisioner)).streams.info("ORDERS");
    expect(info.config.max_age).toBe(86_400_000_000_000);
    expect(info.config.num_replicas).toBe(3);
  });

  it("reports no change right after create, and read gives the same outputs (refresh shows nothing)", async () => {
    const diff = await streamOps.diff(settings, "ORDERS", outs, orders());
    expect(diff).toMatchObject({ changes: false, replaces: [] });
    const read = await streamOps.read(settings, "ORDERS", outs);
    expect(read.id).toBe("ORDERS");
    expect(read.props).toEqual(outs);
    expect((await streamOps.diff(settings, "ORDERS", read.props!, orders())).changes).toBe(false);
  });

  it("updates mutable fields in place, sending every managed field", async () => {
    const news = orders({ maxAge: "48h", subjects: ["test.orders.>", "test.refunds.>"], description: undefined });
    const diff = await streamOps.diff(settings, "ORDERS", outs, news);
    expect(diff.changes).toBe(true);
    expect(diff.replaces).toEqual([]);
    expect(diff.changed.sort()).toEqual(["description", "maxAge", "subjects"]);
    const before = (await streamOps.read(settings, "ORDERS", outs)).props!.created;
    outs = (await streamOps.update(settings, "ORDERS", outs, news)).outs;
    const info = await (await jetStreamManager(live.provisioner)).streams.info("ORDERS");
    expect(info.config.max_age).toBe(172_800_000_000_000);
    expect(info.config.subjects).toEqual(["test.orders.>", "test.refunds.>"]);
    expect(info.config.description ?? "").toBe("");
    expect(info.created).toBe(before);
    expect((await streamOps.diff(settings, "ORDERS", outs, news)).changes).toBe(false);
  });

  it("shows drift after an out-of-band change and none after it is undone", async () => {
    const nc = await separateConnection("provisioner");
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    await jsm.streams.update("ORDERS", { ...streamApiConfig(outs), max_age: 3_600_000_000_000 });
    const drifted = await streamOps.read(settings, "ORDERS", outs);
    expect(drifted.props?.maxAge).toBe("1h");
    const diff = await streamOps.diff(settings, "ORDERS", drifted.props!, outs);
    expect(diff).toMatchObject({ changes: true, replaces: [], changed: ["maxAge"] });
    await jsm.streams.update("ORDERS", streamApiConfig(outs));
    await nc.close();
    const clean = await streamOps.read(settings, "ORDERS", outs);
    expect((await streamOps.diff(settings, "ORDERS", clean.props!, outs)).changes).toBe(false);
  });

  it("refuses to replace a stream holding messages, naming the stream, the count and the command", async () => {
    await publish("test.orders.1", 3);
    const news = { ...outs, storage: "memory" as const };
    const { created: _c, ...newsInputs } = news;
    await expect(streamOps.diff(settings, "ORDERS", outs, newsInputs)).rejects.toThrow(
      /refusing to replace.*stream ORDERS: it holds 3 message\(s\)[\s\S]*pulumi config set --path 'fluo-queue:allowDestroy\[0\]' ORDERS/,
    );
    await expect(streamOps.delete(settings, "ORDERS", outs)).rejects.toThrow(/refusing to delete stream ORDERS: it holds 3/);
    expect((await (await jetStreamManager(live.provisioner)).streams.info("ORDERS")).state.messages).toBe(3);
  });

  it("replaces an immutable field (deleteBeforeReplace) once allowDestroy lists the stream", async () => {
    const allowed: ProviderSettings = { ...settings, allowDestroy: ["ORDERS"] };
    const { created: _c, ...current } = outs;
    const news: StreamInputs = { ...current, storage: "memory" };
    const diff = await streamOps.diff(allowed, "ORDERS", outs, news);
    expect(diff).toMatchObject({ changes: true, replaces: ["storage"], deleteBeforeReplace: true });
    // What the engine does for deleteBeforeReplace: delete the old, create the new.
    await streamOps.delete(allowed, "ORDERS", outs);
    outs = (await streamOps.create(allowed, news)).outs;
    const info = await (await jetStreamManager(live.provisioner)).streams.info("ORDERS");
    expect(info.config.storage).toBe("memory");
    expect(info.state.messages).toBe(0);
  });

  it("adopts an identical existing stream and refuses a different one with a way out", async () => {
    const nc = await separateConnection("provisioner");
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const adopt = orders({ name: "ADOPTED", subjects: ["test.adopted.>"] });
    await jsm.streams.add(streamApiConfig(adopt));
    const created = await streamOps.create(settings, adopt);
    expect(created.outs.created).toBe((await jsm.streams.info("ADOPTED")).created);
    await expect(streamOps.create(settings, { ...adopt, maxAge: "1h" })).rejects.toThrow(
      /stream ADOPTED already exists on nats:\/\/127\.0\.0\.1:\d+.*not adopted:\n  maxAge: live "1d", declared "1h"[\s\S]*Resolve it/,
    );
    await nc.close();
    await streamOps.delete(settings, "ADOPTED", created.outs);
  });

  it("reads a stream whose max_bytes was made unlimited out of band as drift on maxBytes, not as an error", async () => {
    const nc = await separateConnection("provisioner");
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const spec = orders({ name: "UNBOUNDED", subjects: ["test.unbounded.>"] });
    const created = await streamOps.create(settings, spec);
    await jsm.streams.update("UNBOUNDED", { ...streamApiConfig(spec), max_bytes: -1 });
    const read = await streamOps.read(settings, "UNBOUNDED", created.outs);
    expect(read.props?.maxBytes).toBeUndefined();
    const diff = await streamOps.diff(settings, "UNBOUNDED", read.props!, spec);
    expect(diff.changed).toEqual(["maxBytes"]);
    await nc.close();
    await streamOps.delete(settings, "UNBOUNDED", created.outs);
  });

  it("refuses to adopt a stream whose unmanaged settings differ from the pinned ones", async () => {
    const nc = await separateConnection("provisioner");
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const spec = orders({ name: "CAPPED", subjects: ["test.capped.>"] });
    // max_consumers cannot change after creation: adopting this stream would make every later update fail.
    await jsm.streams.add({ ...streamApiConfig(spec), max_consumers: 5 });
    await expect(streamOps.create(settings, spec)).rejects.toThrow(/stream CAPPED already exists.*not adopted[\s\S]*max_consumers: live 5, pinned -1/);
    await jsm.streams.delete("CAPPED");
    await nc.close();
  });

  it("deletes an empty stream; read then reports it gone and a second delete is a no-op", async () => {
    await streamOps.delete(settings, "ORDERS", outs);
    expect(await streamOps.read(settings, "ORDERS", outs)).toEqual({});
    await streamOps.delete(settings, "ORDERS", outs);
  });
});

describe("Consumer provider on a live cluster", () => {
  const work = (over: Partial<ConsumerInputs> = {}): ConsumerInputs =>
    consumerInputs({ stream: "WORK", name: "workers", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 5, ...over });

  it("creates, no-ops, updates in place, replaces an immutable field and deletes", async () => {
    const stream = await streamOps.create(settings, orders({ name: "WORK", subjects: ["test.work.>"], retention: "workqueue" }));
    const created = await consumerOps.create(settings, work());
    expect(created.id).toBe("WORK/workers");
    let outs = created.outs;
    expect(await consumerOps.diff(settings, created.id, outs, work())).toMatchObject({ changes: false });
    const read = await consumerOps.read(settings, created.id, outs);
    expect(read.props).toEqual(outs);

    const longer = work({ ackWait: "1m", maxAckPending: 50, filterSubject: "test.work.a" });
    const update = await consumerOps.diff(settings, created.id, outs, longer);
    expect(update).toMatchObject({ changes: true, replaces: [] });
    outs = (await consumerOps.update(settings, created.id, outs, longer)).outs;
    const info = await (await jetStreamManager(live.provisioner)).consumers.info("WORK", "workers");
    expect(info.config.ack_wait).toBe(60_000_000_000);
    expect(info.config.max_ack_pending).toBe(50);
    expect(info.config.filter_subject).toBe("test.work.a");
    expect((await consumerOps.diff(settings, created.id, outs, longer)).changes).toBe(false);

    // A replace to an ack policy the workqueue stream rejects is refused before anything is deleted.
    await expect(consumerOps.diff(settings, created.id, outs, { ...longer, ackPolicy: "all" })).rejects.toThrow(/JetStream error 10098/);
    const replace = await consumerOps.diff(settings, created.id, outs, { ...longer, name: "workers2" });
    expect(replace).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: true });

    // A consumer already gone with its stream deletes quietly (deletedWith/replaceWith the stream).
    await streamOps.delete(settings, "WORK", stream.outs);
    await consumerOps.delete(settings, created.id, outs);
    expect(await consumerOps.read(settings, created.id, outs)).toEqual({});
  });
});

describe("applyCatalog", () => {
  const catalog = (maxAge: string): Catalog => ({
    streams: [
      { name: "APPLY", subjects: ["test.apply.>"], retention: "limits", storage: "file", replicas: 3, maxAge, maxBytes: "16MiB", discard: "old", publishers: ["fluo-bff"] },
    ],
    consumers: [
      { stream: "APPLY", name: "reader", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 3, consumer: "fluo-workers" },
    ],
  });

  it("creates, then reports everything unchanged, then updates in place", async () => {
    const first = await applyCatalog(live.provisioner, catalog("1h"), { allowDestroy: [] });
    expect(first.counts).toEqual({ create: 2, update: 0, replace: 0, unchanged: 0 });
    const second = await applyCatalog(live.provisioner, catalog("1h"), { allowDestroy: [] });
    expect(second.counts).toEqual({ create: 0, update: 0, replace: 0, unchanged: 2 });
    const third = await applyCatalog(live.provisioner, catalog("2h"), { allowDestroy: [] });
    expect(third.actions[0]).toEqual({ kind: "stream", id: "APPLY", action: "update", fields: ["maxAge"] });
  });

  it("reports what the server has and the catalog does not declare, deleting none of it", async () => {
    const jsm = await jetStreamManager(live.provisioner);
    await jsm.streams.add({ name: "STRAY", subjects: ["test.stray.>"], max_bytes: 1024 * 1024 });
    await jsm.consumers.add("APPLY", { durable_name: "stray-reader", ack_policy: AckPolicy.Explicit });
    const report = await applyCatalog(live.provisioner, catalog("2h"), { allowDestroy: [] });
    expect(report.extras).toEqual(expect.arrayContaining([{ kind: "stream", id: "STRAY" }, { kind: "consumer", id: "APPLY/stray-reader" }]));
    expect(report.extras.map((e) => e.id)).not.toContain("APPLY");
    expect((await jsm.streams.info("STRAY")).config.name).toBe("STRAY");
  });
});

describe("connection settings", () => {
  it("come from the stack config, and a missing password says which key to set", () => {
    const config = (values: Record<string, string>) => ({ get: (k: string) => values[k] });
    const s = settingsFromConfig(
      config({ "fluo-queue:natsUrl": "nats://a:4222,nats://b:4222", "fluo-queue:provisionerPassword": "pw", "fluo-queue:allowDestroy": '["JOBS"]' }),
    );
    expect(s).toEqual({
      connection: { servers: ["nats://a:4222", "nats://b:4222"], user: "fluo-provisioner", password: "pw", inboxPrefix: "_INBOX_FLUO_PROVISIONER" },
      allowDestroy: ["JOBS"],
      timeoutMs: 20_000,
    });
    expect(() => settingsFromConfig(config({ "fluo-queue:natsUrl": "nats://a:4222" }))).toThrow(/fluo-queue:provisionerPassword is not set/);
  });

  it("fail fast with the URL when no server listens there", async () => {
    const dead = { ...live.provisioner, servers: ["nats://127.0.0.1:1"] };
    await expect(streamOps.read({ connection: dead, allowDestroy: [], timeoutMs: DEFAULT_RETRY.totalMs }, "X", undefined)).rejects.toThrow(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  });

  it("reuse one connection per process", async () => {
    const a = await jetStreamManager(live.provisioner);
    const b = await jetStreamManager({ ...live.provisioner });
    expect(a).toBe(b);
  });
});
