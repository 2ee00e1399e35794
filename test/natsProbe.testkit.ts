// Probes that tell an allowed NATS operation from a denied one on a live server. A denied publish is dropped
// silently by the server (the client only gets an async -ERR), so "allowed" is proven by a reply arriving
// from a responder, and "denied" by a permissions error on the connection or subscription.

import { connect, type NatsConnection, type Subscription } from "nats";
import { userSpecs, type UserName } from "../infra/users";

export const TEST_PASSWORDS: Readonly<Record<UserName, string>> = {
  "fluo-bff": "bff-test-password",
  "fluo-backend": "backend-test-password",
  "fluo-workers": "workers-test-password",
  "fluo-provisioner": "provisioner-test-password",
  "fluo-backup": "backup-test-password",
  "fluo-system": "system-test-password",
};

/** Connects as a user with its own inbox prefix (its permissions allow no other). */
export async function connectAs(servers: string[], user: UserName, password = TEST_PASSWORDS[user]): Promise<NatsConnection> {
  const spec = userSpecs().find((s) => s.name === user)!;
  return connect({ servers, user, pass: password, inboxPrefix: spec.inboxPrefix, reconnect: false, timeout: 3000 });
}

/** Resolves with the first permissions violation on this connection, as "<operation> <subject>". */
export function nextPermissionError(nc: NatsConnection, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    void (async () => {
      for await (const status of nc.status()) {
        // nats.js reports the denied operation and subject in permissionContext.
        const context = (status as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (context) {
          clearTimeout(timer);
          resolve(`${context.operation} ${context.subject}`);
          return;
        }
        const text = `${status.type} ${String(status.data)}`;
        if (/permission/i.test(text)) {
          clearTimeout(timer);
          resolve(text);
          return;
        }
      }
    })();
  });
}

/** True when the subscription is refused by the server (the iterator ends with a permissions error). */
export async function subscriptionDenied(sub: Subscription, timeoutMs = 2000): Promise<boolean> {
  const outcome = await Promise.race([
    (async () => {
      try {
        for await (const _ of sub) {
          /* a delivered message means the subscription works */
          return "delivered";
        }
        return "closed";
      } catch (err) {
        return /permission/i.test(String(err)) ? "denied" : `error: ${String(err)}`;
      }
    })(),
    new Promise<string>((r) => setTimeout(() => r("timeout"), timeoutMs)),
  ]);
  return outcome === "denied";
}
