// Probes that tell an allowed NATS operation from a denied one on a live server. A denied publish is dropped
// silently by the server (the client only gets an async -ERR), so "allowed" is proven by a reply arriving
// from a responder, and "denied" by a permissions error on the connection or subscription.

import { connect, type JetStreamClient, type JetStreamPublishOptions, type Msg, type NatsConnection, type PubAck, type Subscription } from "nats";
import { userSpecs, type UserName } from "../infra/users";
import { resendWhileNoResponders } from "../lib/noResponders";
import { parseStackConfig, type StackConfig } from "../infra/stackConfig";
import { readStackFileValues } from "../infra/stackFile";

/**
 * The request timeout of the tests' JetStream administration (nats.js defaults to 5 s). Creating an R3 stream
 * waits for the meta group's proposal and the new group's election, and on a loaded machine that took longer
 * (CI with both cores busy, on 2.14.10: the permission matrix's first create timed out and every test after it
 * found its stream missing). The tests judge what an operation does, not how fast it is.
 */
export const ADMIN_TIMEOUT_MS = 20_000;

/**
 * The identities that may log in on the client port (no `allowed_connection_types`, or STANDARD among them); the
 * others (fluo-frontend) log in over the WebSocket listener only, and a probe of theirs uses connectOverWebsocket.
 */
export const STANDARD_USERS: readonly UserName[] = userSpecs()
  .filter((s) => !s.connectionTypes || s.connectionTypes.includes("STANDARD"))
  .map((s) => s.name);

/** Whether `user` can log in only over the WebSocket listener. */
export const websocketOnly = (user: UserName): boolean => !STANDARD_USERS.includes(user);

/**
 * A connection over the WebSocket listener from Node, with the browser's client (nats.ws) on undici's WebSocket
 * (Node 20 has no global one). It sends no Origin header, which nats-server's origin check lets through (only
 * browsers send one; websocket.live.test.ts checks a browser's). nats.ws is the nats.js v2 client on another
 * transport, so the connection is used as nats' NatsConnection.
 */
export async function connectOverWebsocket(url: string, options: { user: string; pass: string; inboxPrefix: string }): Promise<NatsConnection> {
  const g = globalThis as { WebSocket?: unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  g.WebSocket ??= (require("undici") as { WebSocket: unknown }).WebSocket;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ws = require("nats.ws") as { connect: (o: object) => Promise<unknown> };
  return (await ws.connect({ servers: url, ...options, reconnect: false })) as NatsConnection;
}

export const TEST_PASSWORDS: Readonly<Record<UserName, string>> = {
  "fluo-bff": "bff-test-password",
  "fluo-backend": "backend-test-password",
  "fluo-workers": "workers-test-password",
  "fluo-frontend": "frontend-test-password",
  "fluo-provisioner": "provisioner-test-password",
  "fluo-backup": "backup-test-password",
  "fluo-monitor": "monitor-test-password",
  "fluo-operator": "operator-test-password",
};

/**
 * Connects as a user with its own inbox prefix (its permissions allow no other). No tight connect timeout: the
 * server checks a bcrypt hash on every connect, which on a loaded machine can take seconds, and how long a
 * connect takes is not what any test here proves (a refused login is an immediate -ERR, not a timeout).
 */
export async function connectAs(servers: string[], user: UserName, password = TEST_PASSWORDS[user]): Promise<NatsConnection> {
  const spec = userSpecs().find((s) => s.name === user)!;
  return connect({ servers, user, pass: password, inboxPrefix: spec.inboxPrefix, reconnect: false, timeout: 30_000 });
}

/**
 * A round trip to the server after everything sent so far: the server answers in order on one connection, so
 * once the PONG is back any -ERR for an earlier operation has been received and dispatched (the extra macrotask
 * lets nats.js's status and subscription iterators run). This, not a timer, is what makes "no error" mean
 * "allowed" on a slow machine.
 */
async function barrier(nc: NatsConnection): Promise<void> {
  if (!nc.isClosed()) await nc.flush().catch(() => undefined);
  await new Promise((r) => setImmediate(r));
}

/**
 * Resolves with the first permissions violation on this connection, as "<operation> <subject>", or undefined
 * when none came. Start it, then do the operation: after `waitMs` a barrier (above) decides, so a late -ERR on a
 * busy machine is still seen.
 */
export function nextPermissionError(nc: NatsConnection, waitMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => void barrier(nc).then(() => settle(undefined)), waitMs);
    void (async () => {
      for await (const status of nc.status()) {
        if (settled) return;
        // nats.js reports the denied operation and subject in permissionContext.
        const context = (status as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (context) return settle(`${context.operation} ${context.subject}`);
        const text = `${status.type} ${String(status.data)}`;
        if (/permission/i.test(text)) return settle(text);
      }
    })();
  });
}

/**
 * True when the server refuses the subscription (nats.js ends its iterator with a permissions error). Pass the
 * connection it was made on, so the answer waits for a barrier instead of a timer; without it, `waitMs` alone
 * decides (kept for callers that do not have the connection at hand).
 */
export async function subscriptionDenied(sub: Subscription, waitMs = 2000, nc?: NatsConnection): Promise<boolean> {
  let outcome: string | undefined;
  const watched = (async () => {
    try {
      for await (const _ of sub) {
        /* a delivered message means the subscription works */
        return "delivered";
      }
      return "closed";
    } catch (err) {
      return /permission/i.test(String(err)) ? "denied" : `error: ${String(err)}`;
    }
  })().then((o) => (outcome = o));
  if (nc) {
    await barrier(nc);
    if (outcome === undefined) await Promise.race([watched, new Promise((r) => setTimeout(r, 0))]);
  } else {
    await Promise.race([watched, new Promise((r) => setTimeout(r, waitMs))]);
  }
  return outcome === "denied";
}

/**
 * Reads `read()` until `settled` holds, and returns the last value read, for state the cluster reaches after
 * the call that caused it has returned: an R3 stream leader removes an acked work-queue or interest message by a
 * Raft proposal after the ack's reply (nats-server stream.go ackMsg), and a plain ack (natscli's `consumer next`)
 * gets no reply at all. Measured here: 22 of 100 `streams.info` calls right after `ackAck()` still counted the
 * message. The deadline only bounds a wait for a state that never comes; the caller asserts on what is returned.
 */
export async function eventually<T>(read: () => Promise<T>, settled: (value: T) => boolean, deadlineMs = 15_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (settled(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A request to a responder that has just subscribed, possibly on another server. `flush()` proves only that the
 * responder's own server has the subscription; the others learn it over the routes a moment later, and until
 * then they answer a request with 503 (no responders). Measured here: 12 of 200 requests from another server
 * right after the responder's flush got 503. So a 503 is retried until the interest has arrived (any other
 * error, or a 503 past the deadline, is thrown); the deadline only bounds a wait for something that never comes.
 */
export async function requestAnswered(nc: NatsConnection, subject: string, data: Uint8Array, timeoutMs = 5_000, deadlineMs = 15_000): Promise<Msg> {
  return resendWhileNoResponders(() => nc.request(subject, data, { timeout: timeoutMs }), deadlineMs);
}

/**
 * A JetStream publish to a stream that may have just been created. The create returns once the stream exists,
 * but a server other than its leader's learns the stream's subjects over the routes a moment later, and until
 * then a publish through it gets 503 (no responders): nothing received it, so nothing was stored and sending it
 * again cannot duplicate it (seen in CI: guards.live.test.ts's first publish after a create, under load). Any
 * other error, a timeout included (the message may have been stored), or a 503 past the deadline is thrown.
 */
export async function publishStored(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array | string,
  options?: Partial<JetStreamPublishOptions>,
  deadlineMs = 15_000,
): Promise<PubAck> {
  return resendWhileNoResponders(() => js.publish(subject, data, options), deadlineMs);
}

/**
 * The dev stack with the WebSocket listener on (plain ws://, pages from `origin`), so the browser's identity
 * (fluo-frontend, WebSocket only) is part of what a live test probes.
 */
export function devWithWebsocket(origin = "http://127.0.0.1:8080"): StackConfig {
  return parseStackConfig("dev", {
    ...readStackFileValues("dev"),
    websocket: true,
    websocketNoTls: true,
    websocketAllowedOrigins: [origin],
    websocketNamespaces: ["ingress-nginx"],
  });
}
