// The page a browser loads in the WebSocket tests (test/websocket.live.test.ts): the NATS WebSocket client from npm
// (nats.ws, the browser client of the nats.js v2 line the services use), bundled by esbuild when the test runs.
// Each step returns what the browser saw as one line of text, so the test can print it and assert on it.
// It runs in Chromium: no Node API here.

import { AckPolicy, connect, Events, StringCodec, type NatsConnection, type Subscription } from "nats.ws";

const sc = StringCodec();

interface Violation {
  readonly operation: string;
  readonly subject: string;
  readonly text: string;
}

let nc: NatsConnection | undefined;
const violations: Violation[] = [];
/** Every other error the server sent (a protocol -ERR such as "maximum subscriptions exceeded"). */
const errors: string[] = [];
const violationWaiters: Array<() => void> = [];
const subscriptions: Subscription[] = [];

function describe(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    const text = typeof message === "string" && message !== "" ? message : "";
    if (typeof code === "string" && !text.includes(code)) return text ? `${code}: ${text}` : code;
    if (text) return text;
  }
  return String(err);
}

function connection(): NatsConnection {
  if (!nc) throw new Error("not connected");
  return nc;
}

/**
 * The server's refusal of `subject`, as the client reports it: a publish outside the user's rights does not throw in
 * nats.ws, it reaches `status()` as a permissions violation and the connection stays open (NOTES.md). Resolves when
 * it has arrived; the test bounds the wait.
 */
async function violationOf(subject: string): Promise<string> {
  for (;;) {
    const found = violations.find((v) => v.subject === subject);
    if (found) return `${found.text} (${found.operation} ${found.subject})`;
    await new Promise<void>((resolve) => violationWaiters.push(resolve));
  }
}

async function watchStatus(c: NatsConnection): Promise<void> {
  for await (const s of c.status()) {
    if (s.type !== Events.Error) continue;
    const context = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
    if (context) violations.push({ ...context, text: String(s.data) });
    else errors.push(describe(s.data));
    for (const wake of violationWaiters.splice(0)) wake();
  }
}

export const fluoPage = {
  /** Connects as the frontend identity over the WebSocket listener; "connected ..." or why not. */
  async connect(options: { servers: string; user: string; pass: string; inboxPrefix: string }): Promise<string> {
    try {
      nc = await connect({ ...options, reconnect: false, timeout: 5000 });
    } catch (err) {
      return `connect refused: ${describe(err)}`;
    }
    void watchStatus(nc);
    return `connected to ${nc.getServer()} from ${(globalThis as { location?: { origin: string } }).location?.origin ?? "?"}`;
  },

  /** Subscribes to the signal subjects; resolves once the server has them (a flush is answered after the SUBs). */
  async subscribe(subjects: readonly string[]): Promise<string> {
    const c = connection();
    for (const subject of subjects) subscriptions.push(c.subscribe(subject));
    await c.flush();
    return `subscribed to ${subjects.join(", ")}`;
  },

  /** The first signal any subscription delivers. */
  async nextSignal(): Promise<string> {
    const first = await Promise.race(
      subscriptions.map(async (sub) => {
        for await (const m of sub) return `received ${m.subject}: ${sc.decode(m.data)}`;
        return `subscription ${sub.getSubject()} closed`;
      }),
    );
    return first;
  },

  /** Publishes a job as the backend's BFF would: refused by the server. */
  async publishJob(subject: string): Promise<string> {
    const c = connection();
    c.publish(subject, sc.encode(JSON.stringify({ jobId: "from-a-browser" })));
    await c.flush();
    return `publish ${subject}: ${await violationOf(subject)}`;
  },

  /** Reads the first message of JOBS through the JetStream API: refused (no JetStream API at all). */
  async readJobs(): Promise<string> {
    const jsm = await connection().jetstreamManager({ checkAPI: false, timeout: 3000 });
    const subject = "$JS.API.STREAM.MSG.GET.JOBS";
    const answer = await jsm.streams.getMessage("JOBS", { seq: 1 }).then(
      (m) => `got message ${m.seq} on ${m.subject}`,
      (err: unknown) => `request failed: ${describe(err)}`,
    );
    return `read JOBS (${subject}): ${answer}; server: ${await violationOf(subject)}`;
  },

  /** Creates a consumer on JOBS (it would let the page read every job): refused. */
  async createConsumer(name: string): Promise<string> {
    const jsm = await connection().jetstreamManager({ checkAPI: false, timeout: 3000 });
    const subject = `$JS.API.CONSUMER.CREATE.JOBS.${name}`;
    const answer = await jsm.consumers.add("JOBS", { durable_name: name, ack_policy: AckPolicy.Explicit }).then(
      (info) => `created ${info.name}`,
      (err: unknown) => `request failed: ${describe(err)}`,
    );
    return `create consumer JOBS/${name} (${subject}): ${answer}; server: ${await violationOf(subject)}`;
  },

  /**
   * Subscribes `count` times more: past the account's max_subscriptions the server answers each extra SUB with an
   * -ERR (nats-server 2.15.3 client.go maxSubsExceeded: the SUB is dropped, the connection stays). Resolves with
   * the first such error, or with how the connection ended.
   */
  async subscribeMany(count: number): Promise<string> {
    const c = connection();
    for (let i = 0; i < count; i++) c.subscribe(`signals.status.s${i}`);
    const closed = c.closed().then((err) => `closed: ${err ? describe(err) : "no error"}`);
    const refused = (async () => {
      while (errors.length === 0) await new Promise<void>((resolve) => violationWaiters.push(resolve));
      return `server: ${errors[0]}`;
    })();
    await c.flush().catch(() => undefined);
    return Promise.race([closed, refused]);
  },

  async close(): Promise<void> {
    if (nc && !nc.isClosed()) await nc.close();
  },
};

(globalThis as unknown as { fluoPage: typeof fluoPage }).fluoPage = fluoPage;
