// npm run smoke [-- --state-dir <dir>]   (or `npm run local -- --smoke`)
// ADR-007's message flow end to end against the running local cluster, each step with the least-privileged user
// that does it in production (credentials from the state directory): the BFF submits a trace-analysis job with a
// JetStream ack, a worker pulls and acks it, the worker publishes a signal, every signals consumer receives it,
// and an event is replayed from the audit stream by its replay consumer. Exit 0 only if every step passes.

import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { connect, type Consumer, type JsMsg, type NatsConnection } from "nats";
import { subjectMatches } from "../infra/permissions";
import type { UserName } from "../infra/users";
import { clientOptions, readContextFile } from "../lib/natsContext";
import { resendWhileNoResponders } from "../lib/noResponders";
import { readRecord, stateLayout, type ClusterRecord } from "../local/stateDir";
import { catalogForStack } from "../streams/catalog";
import { publishSubjects } from "../streams/permissions";
import type { Catalog, ConsumerSpec, StreamSpec } from "../streams/spec";
import { parseCommandLine, type CommandSpec } from "./args";
import { exitWhenFlushed, runCli } from "./errors";
import { projectRoot, readStackConfig } from "../infra/stackFile";

// How long one step may wait for its message before it fails.
const STEP_TIMEOUT_MS = 10_000;

/** The parts of the catalog the flow goes through. */
export interface SmokeFlow {
  readonly jobs: { readonly stream: StreamSpec; readonly consumer: ConsumerSpec; readonly subject: string; readonly publisher: UserName };
  readonly signals: { readonly stream: StreamSpec; readonly consumers: readonly ConsumerSpec[]; readonly subject: string; readonly publisher: UserName };
  readonly events: { readonly stream: StreamSpec; readonly consumer: ConsumerSpec; readonly subject: string; readonly publisher: UserName };
}

/** A concrete subject matching a filter or stream pattern: wildcards become "smoke". */
function concrete(pattern: string): string {
  return pattern
    .split(".")
    .map((t) => (t === "*" || t === ">" ? "smoke" : t))
    .join(".");
}

function streamOf(catalog: Catalog, subject: string): StreamSpec {
  const stream = catalog.streams.find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
  if (!stream) throw new Error(`no stream in the catalog captures "${subject}"`);
  return stream;
}

function publisherOf(stream: StreamSpec, preferred: UserName): UserName {
  if (stream.publishers.includes(preferred)) return preferred;
  if (stream.publishers.length === 0) throw new Error(`stream ${stream.name} has no publishers in the catalog`);
  return stream.publishers[0];
}

/** Picks streams, consumers and subjects for the flow from the catalog, so renaming a consumer needs no edit here. */
export function smokeFlow(catalog: Catalog): SmokeFlow {
  // What the catalog lets a publisher use: its declared publications inside the stream.
  const publishable = (stream: StreamSpec, user: UserName): string[] => publishSubjects(stream, user);
  // Jobs: the workers' consumer whose filter covers trace analysis.
  const jobsStream = streamOf(catalog, "jobs.trace_analysis");
  const jobConsumer = catalog.consumers.find(
    (c) => c.stream === jobsStream.name && c.consumer === "fluo-workers" && /trace/i.test(`${c.name} ${c.filterSubject ?? ""}`),
  );
  if (!jobConsumer) throw new Error(`no trace-analysis consumer of fluo-workers on stream ${jobsStream.name}`);
  const jobSubject = jobConsumer.filterSubject ? concrete(jobConsumer.filterSubject) : "jobs.trace_analysis";

  // Signals: one subject every consumer of the stream receives.
  const signalsStream = streamOf(catalog, "signals.status.open");
  const signalConsumers = catalog.consumers.filter((c) => c.stream === signalsStream.name);
  if (signalConsumers.length === 0) throw new Error(`stream ${signalsStream.name} has no consumers`);
  const signalPublisher = publisherOf(signalsStream, "fluo-workers");
  const candidates = ["signals.status.open", ...signalConsumers.map((c) => c.filterSubject), ...publishable(signalsStream, signalPublisher)]
    .filter((s): s is string => s !== undefined)
    .map(concrete);
  const signalSubject = candidates.find(
    (s) =>
      publishable(signalsStream, signalPublisher).some((p) => subjectMatches(p, s)) &&
      signalConsumers.every((c) => c.filterSubject === undefined || subjectMatches(c.filterSubject, s)),
  );
  if (!signalSubject) throw new Error(`the consumers of ${signalsStream.name} share no subject: cannot reach all of them`);

  // Events: the audit stream's replay consumer (deliver all).
  const eventsStream = streamOf(catalog, "events.system.startup");
  const replay =
    catalog.consumers.find((c) => c.stream === eventsStream.name && c.deliverPolicy === "all") ??
    catalog.consumers.find((c) => c.stream === eventsStream.name);
  if (!replay) throw new Error(`stream ${eventsStream.name} has no replay consumer`);
  const eventSubject = replay.filterSubject ? concrete(replay.filterSubject) : "events.system.smoke";

  return {
    jobs: { stream: jobsStream, consumer: jobConsumer, subject: jobSubject, publisher: publisherOf(jobsStream, "fluo-bff") },
    signals: { stream: signalsStream, consumers: signalConsumers, subject: signalSubject, publisher: signalPublisher },
    events: { stream: eventsStream, consumer: replay, subject: eventSubject, publisher: publisherOf(eventsStream, "fluo-backend") },
  };
}

class Connections {
  private readonly open = new Map<UserName, NatsConnection>();
  constructor(private readonly record: ClusterRecord) {}

  async as(user: UserName): Promise<NatsConnection> {
    let nc = this.open.get(user);
    if (!nc) {
      const file = this.record.contexts[user];
      if (!file) throw new Error(`no credentials file for ${user} in the cluster record`);
      nc = await connect({ ...clientOptions(readContextFile(file)), name: `fluo-smoke-${user}`, timeout: 5_000 });
      this.open.set(user, nc);
    }
    return nc;
  }

  async close(): Promise<void> {
    for (const nc of this.open.values()) await nc.close().catch(() => undefined);
    this.open.clear();
  }
}

/**
 * Pulls from `consumer` until the message carrying `id` arrives, acking it (and confirming the ack). Other
 * messages (earlier runs) are acked on limits/interest streams, but left unacked on a work queue, where an ack
 * would delete someone else's job: the server redelivers them after ack_wait.
 */
async function pullUntil(consumer: Consumer, id: string, keepOthers: boolean): Promise<JsMsg> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: 100, expires: 1_000 });
    let found: JsMsg | undefined;
    for await (const m of batch) {
      if (!found && m.string().includes(id)) {
        if (!(await m.ackAck())) throw new Error(`the ack of ${id} was not confirmed`);
        found = m;
      } else if (!keepOthers) {
        m.ack();
      }
    }
    if (found) return found;
  }
  throw new Error(`no message with id ${id} within ${STEP_TIMEOUT_MS / 1000}s`);
}

export async function runSmoke(stateDir: string, log: (line: string) => void): Promise<boolean> {
  const record = readRecord(stateLayout(stateDir));
  const flow = smokeFlow(catalogForStack(readStackConfig(record.stack)));
  const conns = new Connections(record);
  const id = `smoke-${randomUUID()}`;
  let step = "";
  const ok = (line: string): void => log(`  ok   ${step}: ${line}`);
  try {
    step = `${flow.jobs.publisher} publishes a job to ${flow.jobs.subject}`;
    const bff = (await conns.as(flow.jobs.publisher)).jetstream();
    // Right after a start or catalog apply, a server may not yet know a stream's subjects (503): resent, and the
    // message IDs would make a duplicate harmless anyway.
    const jobAck = await resendWhileNoResponders(
      () => bff.publish(flow.jobs.subject, JSON.stringify({ id, type: "trace_analysis", timestamp: Date.now() }), { msgID: id }),
      STEP_TIMEOUT_MS,
    );
    ok(`stored in ${jobAck.stream} seq ${jobAck.seq}`);

    const j = flow.jobs.consumer;
    step = `${j.consumer} pulls and acks it from ${j.stream}/${j.name}`;
    const worker = (await conns.as(j.consumer)).jetstream();
    const job = await pullUntil(await worker.consumers.get(j.stream, j.name), id, flow.jobs.stream.retention === "workqueue");
    ok(`got stream seq ${job.seq}, ack confirmed`);

    step = `${flow.signals.publisher} publishes a signal to ${flow.signals.subject}`;
    const signalPublisher = (await conns.as(flow.signals.publisher)).jetstream();
    const signalAck = await resendWhileNoResponders(
      () => signalPublisher.publish(flow.signals.subject, JSON.stringify({ id, status: "open", job: id }), { msgID: `${id}-signal` }),
      STEP_TIMEOUT_MS,
    );
    ok(`stored in ${signalAck.stream} seq ${signalAck.seq}`);

    for (const c of flow.signals.consumers) {
      step = `${c.consumer} receives it from ${c.stream}/${c.name}`;
      const js = (await conns.as(c.consumer)).jetstream();
      const m = await pullUntil(await js.consumers.get(c.stream, c.name), id, false);
      ok(`got stream seq ${m.seq}, ack confirmed`);
    }

    step = `${flow.events.publisher} publishes an event to ${flow.events.subject}`;
    const eventPublisher = (await conns.as(flow.events.publisher)).jetstream();
    const eventAck = await resendWhileNoResponders(
      () => eventPublisher.publish(flow.events.subject, JSON.stringify({ id, event: "smoke" }), { msgID: `${id}-event` }),
      STEP_TIMEOUT_MS,
    );
    ok(`stored in ${eventAck.stream} seq ${eventAck.seq}`);

    const e = flow.events.consumer;
    step = `${e.consumer} replays it from ${e.stream}/${e.name}`;
    const reader = (await conns.as(e.consumer)).jetstream();
    const event = await pullUntil(await reader.consumers.get(e.stream, e.name), id, false);
    ok(`replayed stream seq ${event.seq}; ${e.stream} keeps it (${flow.events.stream.retention} retention, max_age ${flow.events.stream.maxAge})`);
    log(`Smoke check passed (${id})`);
    return true;
  } catch (err) {
    log(`  FAIL ${step}: ${err instanceof Error ? err.message : String(err)}`);
    log(`Smoke check failed (${id})`);
    return false;
  } finally {
    await conns.close();
  }
}

export const SMOKE: CommandSpec<"state-dir"> = {
  command: "npm run smoke --",
  summary: "ADR-007's message flow end to end against the running local cluster (npm run local), as the least-privileged users",
  options: { "state-dir": { value: "<dir>", help: "local mode's state directory (default .local)" } },
  notes: ["exit: 0 every step passed, 1 a step failed or no local cluster runs"],
};

export async function main(argv: readonly string[]): Promise<number> {
  return runCli("smoke", async () => {
    const { values } = parseCommandLine(SMOKE, argv);
    const stateDir = values["state-dir"] ?? join(projectRoot(), ".local");
    return (await runSmoke(stateDir, (line) => console.log(line))) ? 0 : 1;
  });
}

if (require.main === module) void main(process.argv.slice(2)).then(exitWhenFlushed);
