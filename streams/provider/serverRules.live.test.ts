// The version-aware provider on a live 3-node cluster of the server line under test (nats-server 2.15.3, or
// 2.14.10 with FLUO_NATS_SERVER=previous): each rule of serverRules.ts as the connected server applies it, with
// messages in the streams. Older lines (2.9-2.12) are covered by serverRules.test.ts only: no binary of them is
// pinned here.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { startProvisioningCluster, type ProvisioningCluster } from "./provisioningCluster.testkit";
import { closeConnections, DEFAULT_RETRY, jetStreamManager, serverVersion } from "./client";
import { consumerInputs, consumerOps } from "./consumer";
import { streamInputs, streamOps, type StreamInputs } from "./stream";
import type { ProviderSettings } from "./settings";
import { natsServerBinary } from "../../local/localCluster";
import { natsServerVersion } from "../../tools/resolve";
import { updateRules } from "./serverRules";
import { publishStored } from "../../test/natsProbe.testkit";

let live: ProvisioningCluster;
let settings: ProviderSettings;
let publisher: NatsConnection;

beforeAll(async () => {
  live = await startProvisioningCluster(3);
  settings = { connection: live.provisioner, allowDestroy: [], timeoutMs: DEFAULT_RETRY.totalMs };
  publisher = await connect({ servers: [...live.publisher.servers], user: live.publisher.user, pass: live.publisher.password, inboxPrefix: live.publisher.inboxPrefix });
}, 120_000);

afterAll(async () => {
  await publisher?.close();
  await closeConnections();
  await live?.stop();
});

const stream = (name: string, extra: Partial<StreamInputs> = {}): StreamInputs =>
  streamInputs({ name, subjects: [`test.${name.toLowerCase()}.>`], retention: "limits", storage: "file", replicas: 3, maxAge: "1d", maxBytes: "16MiB", discard: "old", ...extra });

async function publish(subject: string, count: number): Promise<void> {
  const js = publisher.jetstream();
  // A just-created R3 stream may not have a leader yet: publishStored retries its 503 (no responders).
  for (let i = 0; i < count; i++) await publishStored(js, subject, new TextEncoder().encode(`m${i}`));
}

describe(`update rules of the connected server`, () => {
  it("reads the version of the binary this run started", async () => {
    expect(await serverVersion(live.provisioner)).toBe(natsServerVersion(natsServerBinary()).replace(/^v/, ""));
  });

  it("changes retention limits -> interest in place (2.10+) and refuses the switch that would drop messages", async () => {
    expect(updateRules(await serverVersion(live.provisioner)).retentionChangesInPlace("limits", "interest")).toBe(true);
    const created = await streamOps.create(settings, stream("RETAIN"));
    await publish("test.retain.x", 4);
    const interest = stream("RETAIN", { retention: "interest" });
    // Without a consumer nobody is interested in the 4 messages: the switch would drop them all.
    await expect(streamOps.diff(settings, "RETAIN", created.outs, interest)).rejects.toThrow(
      /refusing to update stream RETAIN in place: retention would drop about 4 of its 4 message\(s\)/,
    );
    expect((await (await jetStreamManager(live.provisioner)).streams.info("RETAIN")).state.messages).toBe(4);
    // With a consumer that still has all 4 pending, nothing is below its ack floor: an update, messages kept.
    await consumerOps.create(settings, consumerInputs({ stream: "RETAIN", name: "r", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 5 }));
    const diff = await streamOps.diff(settings, "RETAIN", created.outs, interest);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const updated = await streamOps.update(settings, "RETAIN", created.outs, interest);
    const info = await (await jetStreamManager(live.provisioner)).streams.info("RETAIN");
    expect(info.config.retention).toBe("interest");
    expect(info.created).toBe(created.outs.created);
    expect(info.state.messages).toBe(4);
    await expect(streamOps.diff(settings, "RETAIN", updated.outs, stream("RETAIN", { retention: "workqueue" }))).rejects.toThrow(
      /refusing to replace \(retention cannot change in place\) stream RETAIN: it holds 4 message\(s\)/,
    );
  });

  it("accepts a backoff as long as maxDeliver (2.10.23+ / 2.11+) and refuses a longer one in preview (10116)", async () => {
    await streamOps.create(settings, stream("BACKOFF"));
    const equal = consumerInputs({ stream: "BACKOFF", name: "b", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "1s", maxDeliver: 3, backoff: ["1s", "2s", "4s"] });
    const created = await consumerOps.create(settings, equal);
    expect((await (await jetStreamManager(live.provisioner)).consumers.info("BACKOFF", "b")).config.max_deliver).toBe(3);
    await expect(consumerOps.diff(settings, "BACKOFF/b", created.outs, { ...equal, maxDeliver: 2 })).rejects.toThrow(
      /backoff has 3 entries and maxDeliver is 2: nats-server 2\.1\d\.\d+ needs maxDeliver -1 or at least 3 \(JetStream error 10116\)/,
    );
  });

  it("re-creates a consumer deleted out of band on update (update of a missing consumer fails from 2.10: 10149)", async () => {
    const consumer = consumerInputs({ stream: "BACKOFF", name: "gone", deliverPolicy: "all", ackPolicy: "explicit", ackWait: "30s", maxDeliver: 5 });
    const created = await consumerOps.create(settings, consumer);
    const jsm = await jetStreamManager(live.provisioner);
    await jsm.consumers.delete("BACKOFF", "gone");
    const updated = await consumerOps.update(settings, "BACKOFF/gone", created.outs, { ...consumer, ackWait: "1m" });
    expect((await jsm.consumers.info("BACKOFF", "gone")).config.ack_wait).toBe(60_000_000_000);
    expect(updated.outs.ackWait).toBe("1m");
  });

  it("resets a max_consumers changed out of band in place (updatable from 2.12.5)", async () => {
    const created = await streamOps.create(settings, stream("MAXC"));
    await publish("test.maxc.x", 2);
    const jsm = await jetStreamManager(live.provisioner);
    const info = await jsm.streams.info("MAXC");
    await jsm.streams.update("MAXC", { ...info.config, max_consumers: 5 } as typeof info.config);
    const read = await streamOps.read(settings, "MAXC", created.outs);
    expect(read.props?.pinnedDrift).toEqual(["max_consumers: live 5, pinned -1"]);
    expect(await streamOps.diff(settings, "MAXC", read.props!, stream("MAXC"))).toMatchObject({ changes: true, replaces: [] });
    await streamOps.update(settings, "MAXC", read.props!, stream("MAXC"));
    const after = await jsm.streams.info("MAXC");
    expect(after.config.max_consumers).toBe(-1);
    expect(after.state.messages).toBe(2);
  });
});
