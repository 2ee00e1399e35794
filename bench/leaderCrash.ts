// What a worker sees when the consumer leader crashes mid-consume (issue 19): jobs whose ack the server had
// confirmed (double ack) delivered again, and whether any job is lost. A local 3-node cluster from the dev
// config; JOBS as the catalog declares it; the rule-validation consumer with a short ack wait so redeliveries come
// within the run; one worker pulling in batches and acking each job with ackAck; SIGKILL of the consumer
// leader's server when half the jobs are acked, and its restart a moment later.
//
//   npm run bench:leader-crash [-- --jobs 3000] [--trials 3] [--sync always]
//
// The live test (streams/redelivery.live.test.ts) runs one trial and asserts that nothing is lost.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, connect, DeliverPolicy, headers, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "../infra/passwordHash";
import { readStackConfig } from "../infra/stackFile";
import { userSpecs, type UserName } from "../infra/users";
import { LocalCluster } from "../local/localCluster";
import { streamApiConfig } from "../streams/fields";
import { resendWhileNoResponders } from "../lib/noResponders";
import type { NatsConfInput } from "../infra/natsConfig";

const sc = StringCodec();

export interface LeaderCrashOptions {
  readonly jobs: number;
  /** JetStream's sync_interval ("always": fsync every write); absent: the server's default. */
  readonly syncInterval?: string;
  /** How long the whole trial may take before the jobs still missing count as lost. */
  readonly deadlineMs?: number;
  /** How long the killed server stays down before its restart. */
  readonly downMs?: number;
  readonly onProgress?: (line: string) => void;
  /** Another account layout (the control: every identity in the stream account, as before issue 19). */
  readonly adjustLayout?: (input: NatsConfInput) => NatsConfInput;
}

export interface LeaderCrashResult {
  readonly jobs: number;
  /** Jobs whose double ack the server confirmed. */
  readonly confirmed: number;
  /** Deliveries of a job after its ack had been confirmed. */
  readonly redeliveredAfterAck: number;
  /** Distinct jobs among those. */
  readonly jobsRedeliveredAfterAck: number;
  /** Jobs never confirmed by the end, nor left in the stream: lost. */
  readonly lost: number;
  /** Confirmed acks when the leader was killed, and how long until the next confirmed ack. */
  readonly ackedAtCrash: number;
  readonly failoverSeconds: number;
  readonly killed: string;
}

const PASSWORDS = Object.fromEntries(userSpecs().map((u) => [u.name, `crash-${u.name}`])) as Record<UserName, string>;
const inbox = (user: UserName) => userSpecs().find((u) => u.name === user)!.inboxPrefix;

async function login(cluster: LocalCluster, user: UserName): Promise<NatsConnection> {
  return connect({ servers: cluster.servers, user, pass: PASSWORDS[user], inboxPrefix: inbox(user), maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 30_000 });
}

export async function measureLeaderCrash(options: LeaderCrashOptions): Promise<LeaderCrashResult> {
  const progress = options.onProgress ?? (() => undefined);
  const config = readStackConfig("dev");
  const { catalog, grants } = deploymentModel(config);
  const stateDir = mkdtempSync(join(tmpdir(), "fluo-crash-"));
  const cluster = await LocalCluster.start({
    config,
    grants,
    hashes: passwordHashes(PASSWORDS),
    stateDir,
    adjustConfig: (input) => {
      const layout = options.adjustLayout ? options.adjustLayout(input) : input;
      return { ...layout, ...(options.syncInterval ? { syncInterval: options.syncInterval } : {}) };
    },
  });
  const connections: NatsConnection[] = [];
  try {
    await cluster.waitForMetaLeader();
    const provisioner = await login(cluster, "fluo-provisioner");
    connections.push(provisioner);
    const jsm = await provisioner.jetstreamManager({ timeout: 20_000 });
    await jsm.streams.add(streamApiConfig(catalog.streams.find((s) => s.name === "JOBS")!));
    // The catalog's consumer, with an ack wait short enough that redeliveries come within the trial.
    await jsm.consumers.add("JOBS", {
      durable_name: "rule-validation",
      filter_subject: "jobs.rule_validation",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 3e9,
      max_deliver: -1,
      max_ack_pending: 1000,
    });
    const bff = await login(cluster, "fluo-bff");
    connections.push(bff);
    const js = bff.jetstream();
    for (let i = 0; i < options.jobs; i++) {
      const h = headers();
      h.set("Nats-Msg-Id", `job-${i}`);
      await resendWhileNoResponders(() => js.publish("jobs.rule_validation", sc.encode(`{"job":${i}}`), { headers: h }), 15_000);
    }
    progress(`published ${options.jobs} jobs`);

    const worker = await login(cluster, "fluo-workers");
    connections.push(worker);
    const confirmed = new Set<string>();
    const again = new Map<string, number>();
    let redeliveredAfterAck = 0;
    let ackedAtCrash = 0;
    let crashAt = 0;
    let firstAckAfterCrash = 0;
    let killed = "";
    const deadline = Date.now() + (options.deadlineMs ?? 180_000);
    const consumer = await worker.jetstream().consumers.get("JOBS", "rule-validation");
    const remaining = async (): Promise<number> => (await jsm.streams.info("JOBS")).state.messages;
    // The kill lands while acks are in flight: fired from the ack that reaches half, not between batches.
    let crash: Promise<void> | undefined;
    // Who leads is asked ahead (at 40%), so the kill itself waits for nothing.
    let leaderLookup: Promise<string> | undefined;
    const killLeader = async (): Promise<void> => {
      const leader = await leaderLookup!;
      const index = cluster.nodes.findIndex((n) => n.name === leader);
      if (index < 0) return;
      ackedAtCrash = confirmed.size;
      crashAt = Date.now();
      killed = leader;
      await cluster.killNode(index);
      progress(`killed consumer leader ${leader} after ${ackedAtCrash} confirmed acks`);
      // Back a moment later, as a pod restarted by its StatefulSet.
      setTimeout(() => void cluster.startNode(index).then(() => progress(`${leader} restarted`)), options.downMs ?? 2_000);
    };
    while (Date.now() < deadline) {
      if (confirmed.size >= options.jobs && (await remaining().catch(() => -1)) === 0) break;
      try {
        const batch = await consumer.fetch({ max_messages: 100, expires: 2_000 });
        // A worker pool: every job of the batch acked at once, as parallel workers finish, each ack confirmed.
        const acks: Array<Promise<void>> = [];
        for await (const msg of batch) {
          const id = msg.headers?.get("Nats-Msg-Id") ?? "";
          if (confirmed.has(id)) {
            redeliveredAfterAck++;
            again.set(id, (again.get(id) ?? 0) + 1);
          }
          acks.push(
            msg.ackAck({ timeout: 5_000 }).then(
              (ok) => {
                if (!ok) return;
                if (crashAt && !firstAckAfterCrash) firstAckAfterCrash = Date.now();
                confirmed.add(id);
                if (!leaderLookup && confirmed.size >= options.jobs * 0.4) {
                  leaderLookup = jsm.consumers.info("JOBS", "rule-validation").then((i) => i.cluster?.leader ?? "", () => "");
                }
                if (!crash && leaderLookup && confirmed.size >= options.jobs / 2) crash = killLeader();
              },
              // Not confirmed (the leader went away): the job comes again, which is not a redelivery after an ack.
              () => undefined,
            ),
          );
        }
        await Promise.all(acks);
      } catch {
        // The consumer is electing a new leader: ask again.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await crash;
    const left = await remaining().catch(() => options.jobs - confirmed.size);
    return {
      jobs: options.jobs,
      confirmed: confirmed.size,
      redeliveredAfterAck,
      jobsRedeliveredAfterAck: again.size,
      lost: Math.max(0, options.jobs - confirmed.size - left),
      ackedAtCrash,
      failoverSeconds: firstAckAfterCrash ? (firstAckAfterCrash - crashAt) / 1000 : NaN,
      killed,
    };
  } finally {
    for (const nc of connections) await nc.close().catch(() => undefined);
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: readonly string[]): Promise<void> {
  const jobs = Number(flag(argv, "jobs") ?? 3000);
  const trials = Number(flag(argv, "trials") ?? 3);
  const syncInterval = flag(argv, "sync");
  const load = () => (require("node:fs") as typeof import("node:fs")).readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`leader crash: ${jobs} jobs, ${trials} trials, sync_interval ${syncInterval ?? "(server default)"}, nats-server from tools/resolve`);
  for (let t = 1; t <= trials; t++) {
    const shared = argv.includes("--shared-account") ? (await import("../infra/injection.testkit")).sharedAccountLayout : undefined;
    const r = await measureLeaderCrash({ jobs, syncInterval, adjustLayout: shared, downMs: Number(flag(argv, "down-ms") ?? 2000), onProgress: (l) => console.error(`  ${l}`) });
    console.log(
      `trial ${t}: ${r.redeliveredAfterAck} deliveries after a confirmed ack (${r.jobsRedeliveredAfterAck} jobs, ${((100 * r.jobsRedeliveredAfterAck) / jobs).toFixed(2)}%), ` +
        `${r.lost} lost, ${r.confirmed}/${jobs} confirmed, killed ${r.killed} at ${r.ackedAtCrash}, next ack after ${r.failoverSeconds.toFixed(1)} s (load ${load()})`,
    );
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
