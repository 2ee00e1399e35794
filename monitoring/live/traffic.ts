// Traffic for the live monitoring runs, through the least-privileged users: fluo-bff submits jobs and events,
// fluo-workers work jobs off (fetch and ack) and report signals.

import type { NatsConnection } from "nats";
import { publishStored } from "../../test/natsProbe.testkit";

/**
 * Publishes `count` messages to `subject` through JetStream (each one acked by the stream). A 503 is resent: the
 * first publishes after the catalog apply can reach a server that has not yet learned the stream's subjects over
 * the routes (CI once failed the runbooks file's setup on it).
 */
export async function publish(nc: NatsConnection, subject: string, count: number, size = 64): Promise<void> {
  const js = nc.jetstream();
  const payload = new Uint8Array(size).fill(120);
  for (let sent = 0; sent < count; ) {
    const batch = Math.min(100, count - sent);
    await Promise.all(Array.from({ length: batch }, () => publishStored(js, subject, payload)));
    sent += batch;
  }
}

/** Fetches and acks up to `count` messages of a durable pull consumer; returns how many it got. */
export async function workOff(nc: NatsConnection, stream: string, consumer: string, count: number): Promise<number> {
  const c = await nc.jetstream().consumers.get(stream, consumer);
  let done = 0;
  while (done < count) {
    const batch = await c.fetch({ max_messages: Math.min(100, count - done), expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      await m.ackAck();
      got++;
    }
    if (got === 0) break;
    done += got;
  }
  return done;
}
