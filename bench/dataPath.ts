// npm run bench [-- --state-dir <dir>] [--credentials <dir> | --context <file>] [--url nats://host:4222] [--ca <file>] [--stack dev]
//                [--rate 500] [--seconds 10] [--messages 10000] [--in-flight 256]
// The data path of ADR-007, measured with the production users against a running cluster (by default the one
// `npm run local` runs):
//   - JetStream publish with ack on the jobs stream (fluo-bff): at a fixed rate, then at full speed with a
//     bounded number of publishes in flight; latency = publish to PubAck.
//   - core NATS on the same cluster: BFF -> backend request/reply (rpc.backend.bench), same two modes;
//     latency = the round trip; and one-way publish -> subscriber at full speed (latency from a timestamp).
//   - pull consumption by fluo-workers from the trace-analysis consumer with 1 worker, then 4 workers;
//     every job this run published and got acked must be consumed exactly once.
// Each run tags its jobs with its own id and counts only those: jobs an earlier (crashed) run left on the
// consumer are drained first and reported, never counted, and a run that fails drains its own.
// Everything is bounded by message counts and durations, so it ends by itself (about a minute with defaults).
// It publishes real jobs and acks whatever the consumer holds: never point it at production.

import { randomUUID } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type Consumer, type JetStreamClient, type NatsConnection } from "nats";
import type { UserName } from "../infra/users";
import { clientOptions, ContextFileError, readContextFile, type ClientOptions } from "../lib/natsContext";
import { resendWhileNoResponders } from "../lib/noResponders";
import { readRecord, stateLayout } from "../local/stateDir";
import { smokeFlow } from "../cli/smoke";
import { parseCommandLine, positiveInteger, UsageError, type CommandSpec } from "../cli/args";
import { checkCaFile, connectFailure } from "../cli/connection";
import { exitWhenFlushed, runCli } from "../cli/errors";
import { projectRoot, readStackConfig } from "../infra/stackFile";
import { catalogForStack } from "../streams/catalog";
import { resultTable, type PhaseResult } from "./stats";

const RPC_SUBJECT = "rpc.backend.bench";
const USERS: readonly UserName[] = ["fluo-bff", "fluo-backend", "fluo-workers", "fluo-provisioner"];

interface BenchSettings {
  readonly stack: string;
  readonly credentials: Readonly<Record<UserName, ClientOptions>>;
  readonly rate: number;
  readonly seconds: number;
  readonly messages: number;
  readonly inFlight: number;
}

export const BENCH: CommandSpec<"state-dir" | "credentials" | "context" | "url" | "ca" | "stack" | "rate" | "seconds" | "messages" | "in-flight"> = {
  command: "npm run bench --",
  summary: "measures JetStream publish, core request/reply and pull consumption with the production users",
  options: {
    "state-dir": { value: "<dir>", help: "the local cluster to measure (default .local, as `npm run local` runs it)" },
    credentials: { value: "<dir>", help: "another cluster: a directory of nats CLI context files <user>.json (fluo-bff, fluo-backend, fluo-workers, fluo-provisioner)" },
    context: { value: "<file>", help: "one user's nats CLI context file (e.g. .local/credentials/fluo-bff.json or fluo-bff.nkey.json): the other users' files of the same kind are read beside it" },
    url: { value: "<nats-url>", help: "with --credentials or --context: server URL(s) instead of the files' url" },
    ca: { value: "<file>", help: "CA certificate (PEM) of the servers' TLS certificates, instead of the context files' ca" },
    stack: { value: "<name>", help: "the stack whose catalog names the jobs stream and consumer (default: the local cluster's, else dev)" },
    rate: { value: "<n>", help: "messages per second of the fixed-rate phases (default 500)" },
    seconds: { value: "<n>", help: "duration of the fixed-rate phases (default 10)" },
    messages: { value: "<n>", help: "messages of the full-speed phases (default 10000)" },
    "in-flight": { value: "<n>", help: "operations in flight at full speed (default 256)" },
  },
  notes: ["never point it at production: it publishes jobs and acks whatever the consumer holds"],
};

/** The suffix of the context file named (".json", or local mode's ".nkey.json"): the other users' files have it too. */
function contextSuffix(file: string): string {
  const name = basename(file);
  const user = USERS.find((u) => name.startsWith(`${u}.`));
  return user ? name.slice(user.length) : ".json";
}

function readCredentialsDir(dir: string, url: string | undefined, suffix = ".json"): Record<string, ClientOptions> {
  return Object.fromEntries(
    USERS.map((u) => {
      const file = join(dir, `${u}${suffix}`);
      let options: ClientOptions;
      try {
        options = clientOptions(readContextFile(file));
      } catch (err) {
        if (err instanceof ContextFileError) throw new UsageError(`--credentials ${dir}: ${u}${suffix}: ${err.detail}`);
        throw err;
      }
      return [u, url ? { ...options, servers: url.split(",") } : options];
    }),
  );
}

function parseSettings(argv: readonly string[]): BenchSettings {
  const { values } = parseCommandLine(BENCH, argv);
  let stack = values.stack;
  let credentials: Record<string, ClientOptions>;
  if (values.credentials && values.context) throw new UsageError("--credentials and --context name the same thing: give one");
  // The benchmark runs as four users: a context file stands for the directory of all of them, as local mode writes it.
  const credentialsDir = values.credentials ?? (values.context ? dirname(values.context) : undefined);
  if (values.url && !credentialsDir) throw new UsageError("--url needs --credentials <dir of <user>.json context files> or --context <file>");
  if (credentialsDir) {
    credentials = readCredentialsDir(credentialsDir, values.url, values.context ? contextSuffix(values.context) : undefined);
  } else {
    const record = readRecord(stateLayout(values["state-dir"] ?? join(projectRoot(), ".local")));
    stack ??= record.stack;
    credentials = Object.fromEntries(USERS.map((u) => [u, clientOptions(readContextFile(record.contexts[u]))]));
  }
  const caFile = values.ca ? checkCaFile("--ca", values.ca) : undefined;
  for (const [user, options] of Object.entries(credentials)) {
    if (caFile) credentials[user] = { ...options, tls: { caFile } };
    else if (options.tls) checkCaFile(`${user}'s context: ca`, options.tls.caFile);
  }
  const settings = {
    stack: stack ?? "dev",
    credentials: credentials as Record<UserName, ClientOptions>,
    rate: positiveInteger("rate", values.rate, 500),
    seconds: positiveInteger("seconds", values.seconds, 10),
    messages: positiveInteger("messages", values.messages, 10_000),
    inFlight: positiveInteger("in-flight", values["in-flight"], 256),
  };
  if (settings.rate * settings.seconds > 100_000) throw new UsageError("--rate x --seconds: at most 100000 messages");
  if (settings.messages > 100_000) throw new UsageError("--messages: at most 100000");
  return settings;
}

/** Sends `count` operations at `rate` per second; resolves with each operation's latency in ms. */
async function atFixedRate(count: number, rate: number, op: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = new Array<number>(count);
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const i = sent;
      const t0 = performance.now();
      pending.push(op(i).then(() => void (latencies[i] = performance.now() - t0)));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

/** Runs `count` operations as fast as possible with at most `inFlight` outstanding. */
async function atFullSpeed(count: number, inFlight: number, op: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = new Array<number>(count);
  let next = 0;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

/**
 * `workers` pull loops on one consumer until `target` of this run's jobs were consumed (or the consumer ran dry).
 * Counts every delivery per job id so duplicates show; acks everything it receives, counting what is not this
 * run's (an earlier run's leftovers, other jobs) apart.
 */
async function consume(
  consumers: readonly Consumer[],
  runPrefix: string,
  target: number,
  deliveries: Map<string, number>,
): Promise<{ consumed: number; foreign: number; seconds: number }> {
  let consumed = 0;
  let foreign = 0;
  let idle = 0;
  const start = performance.now();
  // The clock stops at the last message, not when the final (partly empty) fetch expires.
  let last = start;
  const worker = async (c: Consumer): Promise<void> => {
    while (consumed < target && idle < 3) {
      const batch = await c.fetch({ max_messages: 256, expires: 1_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        const id = jobId(m.string());
        if (id?.startsWith(runPrefix)) {
          deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
          consumed++;
          last = performance.now();
        } else {
          foreign++;
        }
        m.ack();
      }
      // A few consecutive empty fetches across the workers: nothing left to consume.
      idle = got === 0 ? idle + 1 : 0;
    }
  };
  await Promise.all(consumers.map(worker));
  return { consumed, foreign, seconds: (last - start) / 1000 };
}

function jobId(payload: string): string | undefined {
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Acks everything the consumer holds (until it runs dry or `limitMs` passes); returns how many. */
async function drain(consumer: Consumer, limitMs: number): Promise<number> {
  const deadline = Date.now() + limitMs;
  let drained = 0;
  while (Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 1_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      m.ack();
    }
    drained += got;
    if (got === 0) break;
  }
  return drained;
}

async function bench(settings: BenchSettings): Promise<number> {
  const flow = smokeFlow(catalogForStack(readStackConfig(settings.stack)));
  const { stream, consumer: jobConsumer, subject } = flow.jobs;
  const open: NatsConnection[] = [];
  const as = async (user: UserName, name: string): Promise<NatsConnection> => {
    const options = settings.credentials[user];
    const nc = await connect({ ...options, name, timeout: 5_000 }).catch((err: unknown) => {
      throw connectFailure(options.servers, user, err);
    });
    open.push(nc);
    return nc;
  };
  const results: PhaseResult[] = [];
  const run = randomUUID().slice(0, 8);
  const runPrefix = `bench-${run}-`;
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const phase = (line: string): void => console.log(`.. [${elapsed()}] ${line}`);
  let cleanUp: (() => Promise<number>) | undefined;
  let passed = false;
  try {
    console.log(
      `Benchmark ${run}: ${stream.name} (${stream.retention}, ${stream.storage}, R${stream.replicas}) via ${subject}, ` +
        `consumer ${jobConsumer.name}; core request/reply on ${RPC_SUBJECT}; servers ${settings.credentials["fluo-bff"].servers.join(",")}`,
    );
    const jobs = await (await as("fluo-workers", "bench-drain")).jetstream().consumers.get(jobConsumer.stream, jobConsumer.name);
    cleanUp = () => drain(jobs, 30_000);
    phase(`draining ${jobConsumer.stream}/${jobConsumer.name} (jobs left by earlier runs)`);
    const leftovers = await drain(jobs, 30_000);
    phase(`drained ${leftovers} leftover job(s)`);

    const bff = await as("fluo-bff", "bench-bff");
    const js: JetStreamClient = bff.jetstream();
    const acked: string[] = [];
    const publishJob = (prefix: string) => async (i: number): Promise<void> => {
      const id = `${runPrefix}${prefix}-${i}`;
      await js.publish(subject, JSON.stringify({ id, type: "bench", timestamp: Date.now() }), { msgID: id });
      acked.push(id);
    };

    const fixed = settings.rate * settings.seconds;
    phase(`JetStream publish: ${fixed} at ${settings.rate}/s`);
    let r = await atFixedRate(fixed, settings.rate, publishJob("rate"));
    results.push({ phase: `JetStream publish+ack ${settings.rate}/s`, messages: fixed, seconds: r.seconds, latenciesMs: r.latencies });
    phase(`JetStream publish: ${settings.messages} at full speed, ${settings.inFlight} in flight`);
    r = await atFullSpeed(settings.messages, settings.inFlight, publishJob("full"));
    results.push({ phase: `JetStream publish+ack full speed (${settings.inFlight} in flight)`, messages: settings.messages, seconds: r.seconds, latenciesMs: r.latencies });

    const backend = await as("fluo-backend", "bench-backend");
    const responder = backend.subscribe(RPC_SUBJECT);
    void (async () => {
      for await (const m of responder) m.respond(m.data);
    })();
    await backend.flush();
    const request = async (): Promise<void> => {
      await bff.request(RPC_SUBJECT, "ping", { timeout: 5_000 });
    };
    // The responder's subscription reaches the BFF's server over the routes a moment after the flush.
    await resendWhileNoResponders(request, 5_000);
    phase(`core NATS request/reply: ${fixed} at ${settings.rate}/s`);
    r = await atFixedRate(fixed, settings.rate, request);
    results.push({ phase: `core request/reply ${settings.rate}/s`, messages: fixed, seconds: r.seconds, latenciesMs: r.latencies });
    phase(`core NATS request/reply: ${settings.messages} at full speed, ${settings.inFlight} in flight`);
    r = await atFullSpeed(settings.messages, settings.inFlight, request);
    results.push({ phase: `core request/reply full speed (${settings.inFlight} in flight)`, messages: settings.messages, seconds: r.seconds, latenciesMs: r.latencies });
    responder.unsubscribe();

    // One-way core publish to a subscriber on another connection; latency from a timestamp in the payload
    // (same process, same clock). Published in chunks with a flush so the client buffer stays bounded.
    const oneWay = settings.messages * 5;
    phase(`core NATS publish -> subscriber: ${oneWay} at full speed`);
    const received: number[] = [];
    const sub = backend.subscribe(RPC_SUBJECT, { max: oneWay });
    const done = (async () => {
      for await (const m of sub) received.push(performance.now() - Number(m.string()));
    })();
    await backend.flush();
    const t0 = performance.now();
    for (let i = 0; i < oneWay; i += 1_000) {
      for (let j = i; j < Math.min(oneWay, i + 1_000); j++) bff.publish(RPC_SUBJECT, String(performance.now()));
      await bff.flush();
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
    sub.unsubscribe();
    results.push({ phase: "core publish -> subscriber full speed", messages: received.length, seconds: (performance.now() - t0) / 1000, latenciesMs: received });
    if (received.length < oneWay) console.log(`   (only ${received.length} of ${oneWay} arrived within 10s)`);

    const deliveries = new Map<string, number>();
    const workerConsumers = async (n: number): Promise<Consumer[]> =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => (await as("fluo-workers", `bench-worker-${i}`)).jetstream().consumers.get(jobConsumer.stream, jobConsumer.name)),
      );
    const half = Math.floor(acked.length / 2);
    phase(`pull consume: 1 worker, ${half} jobs`);
    const one = await consume(await workerConsumers(1), runPrefix, half, deliveries);
    results.push({ phase: "pull+ack 1 worker", messages: one.consumed, seconds: one.seconds, latenciesMs: [] });
    phase(`pull consume: 4 workers, the remaining ${acked.length - one.consumed} jobs`);
    const four = await consume(await workerConsumers(4), runPrefix, acked.length - one.consumed, deliveries);
    results.push({ phase: "pull+ack 4 workers", messages: four.consumed, seconds: four.seconds, latenciesMs: [] });
    for (const nc of open) await nc.flush();
    phase("done");

    const ackedIds = new Set(acked);
    const missing = acked.filter((id) => !deliveries.has(id)).length;
    const duplicated = [...deliveries.values()].filter((n) => n > 1).length;
    const unknown = [...deliveries.keys()].filter((id) => !ackedIds.has(id)).length;
    const provisioner = await as("fluo-provisioner", "bench-check");
    const info = await (await provisioner.jetstreamManager()).consumers.info(jobConsumer.stream, jobConsumer.name);

    console.log("");
    console.log(resultTable(results));
    console.log("");
    const others = one.foreign + four.foreign;
    console.log(
      `Exactly once: ${acked.length} jobs acked by ${stream.name}, ${deliveries.size} distinct consumed, ` +
        `${missing} missing, ${duplicated} delivered more than once, ${unknown} unexpected` +
        `${others > 0 ? `, ${others} messages of other runs also acked (not counted)` : ""}; ` +
        `consumer now ${info.num_pending} pending, ${info.num_ack_pending} unacked`,
    );
    passed = missing === 0 && duplicated === 0 && unknown === 0;
    console.log(passed ? "PASS: every acked job consumed exactly once" : "FAIL: exactly-once check");
    return passed ? 0 : 1;
  } finally {
    // A run that stopped half-way leaves its jobs on the consumer: take them off so the next bench or smoke
    // check starts clean.
    if (!passed && cleanUp) {
      const left = await cleanUp().catch(() => undefined);
      if (left) console.error(`bench: drained the ${left} job(s) this run left on ${jobConsumer.stream}/${jobConsumer.name}`);
    }
    for (const nc of open) await nc.close().catch(() => undefined);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  return runCli("bench", () => bench(parseSettings(argv)));
}

if (require.main === module) void main(process.argv.slice(2)).then(exitWhenFlushed);
