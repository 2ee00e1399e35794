// A NATS request or JetStream publish that may go out before the cluster knows where to deliver it. A responder's
// subscription, or a new stream's subjects, reach the servers other than its own over the routes a moment later,
// and until then such a server answers with 503 (no responders). Nothing received the message, so sending it
// again cannot duplicate it. Any other error (a timeout included: a publish may have been stored) is thrown, and
// so is a 503 past the deadline, which only bounds a wait for interest that never comes.

/** Whether `err` is the client's "no responders" error (nats.js code "503"). */
export function isNoResponders(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "503";
}

/** Runs `send` until it does not fail with 503, or the deadline passes; returns what it returned. */
export async function resendWhileNoResponders<T>(send: () => Promise<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!isNoResponders(err) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
