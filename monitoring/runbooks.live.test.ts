// The alert runbooks stay true: every `nats` command and monitoring endpoint in the README's "Alert runbooks"
// section runs here against a local 3-node cluster (dev stack, catalog applied, the pinned nats-server and natscli),
// as the user its `--context` names, and prints what the runbook says to look at; the destructive ones (purge,
// stream peer-remove, server peer-remove) on a stream and a server of their own. A command added to the runbooks
// without an entry here fails the first test. Needs no exporter.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JetStreamManager } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contextFile } from "../local/credentials";
import { NATS_CLI, requireBinary } from "../tools/resolve";
import { committedMetricList } from "./exporterMetrics";
import { httpGet, waitFor } from "./live/processes";
import { startMonitoredCluster, type MonitoredCluster } from "./live/stack";
import { publish } from "./live/traffic";
import { ADMIN_TIMEOUT_MS } from "../test/natsProbe.testkit";

const README = readFileSync(join(__dirname, "..", "README.md"), "utf8");
const RUNBOOKS = README.slice(README.indexOf("## Alert runbooks"));
const NATS = requireBinary(NATS_CLI).path;

/** Inline code spans of the runbooks, line breaks inside them joined (the README wraps at 120 columns). */
const spans = [...new Set([...RUNBOOKS.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, " ").trim()))];
const natsCommands = spans.filter((s) => s.startsWith("nats "));
const endpoints = [...new Set(spans.flatMap((s) => {
  const m = /^(?:curl localhost:8222)?(\/(?:healthz|varz|routez|jsz|connz)\S*)$/.exec(s);
  return m ? [m[1]] : [];
}))];

type Expectation =
  /**
   * Runs (exit 0) and its output matches every pattern. `<placeholders>` are filled from the fixture, or from
   * `fill` (a destructive command gets a stream of its own); `extraArgs` answer natscli's confirmation prompt.
   */
  | {
      readonly kind: "runs";
      readonly output: readonly RegExp[];
      readonly fill?: Readonly<Record<string, string>>;
      readonly extraArgs?: readonly string[];
      readonly after?: () => Promise<void>;
    }
  /** Runs as written and fails the way the runbook says it does (exit not 0, output matches). */
  | { readonly kind: "fails"; readonly output: readonly RegExp[]; readonly fill?: Readonly<Record<string, string>>; readonly extraArgs?: readonly string[] }
  /** Named in prose; the command of `see` is the one run. */
  | { readonly kind: "mention"; readonly see: string };

/** The stream the destructive runbook commands act on (R3, a few messages): the catalog's streams stay intact. */
const SCRATCH = { name: "RUNBOOKTEST", subject: "test.runbook" };

const EXPECTATIONS: Readonly<Record<string, Expectation>> = {
  "nats --context <user>": { kind: "mention", see: "nats --context fluo-provisioner consumer info <stream> <consumer>" },
  "nats --context fluo-provisioner consumer info <stream> <consumer>": {
    kind: "runs",
    output: [/Information for Consumer JOBS > trace-analysis/, /Redelivered Messages: [1-9]/, /Waiting Pulls: \d+/, /Last Delivered Message: /],
  },
  "nats --context fluo-provisioner consumer info DEADLETTER inspect": { kind: "runs", output: [/Information for Consumer DEADLETTER > inspect/, /Unprocessed Messages: 1\b/] },
  "nats --context fluo-backend consumer next DEADLETTER inspect --no-ack": {
    kind: "runs",
    output: [/subj: \$JS\.EVENT\.ADVISORY\.CONSUMER\.MAX_DELIVERIES\.JOBS\.trace-analysis/, /"stream_seq":1\b/, /"deliveries":4\b/],
  },
  "nats --context fluo-backend request '$JS.API.STREAM.MSG.GET.JOBS' '{\"seq\":<seq>}'": {
    kind: "runs",
    output: [/"subject":"jobs\.trace_analysis"/, /"seq":1\b/],
  },
  "nats --context fluo-backend request '$JS.API.STREAM.MSG.GET.JOBS' '{\"seq\":<stream_seq>}'": {
    kind: "mention",
    see: "nats --context fluo-backend request '$JS.API.STREAM.MSG.GET.JOBS' '{\"seq\":<seq>}'",
  },
  // NatsRegionLinkDown: here a single region's EVENTS (a standby's adds the mirror's lag and Last Seen).
  "nats --context fluo-provisioner stream info EVENTS": { kind: "runs", output: [/Information for Stream EVENTS/, /Subjects: events\.>/] },
  "nats --context fluo-monitor server ls": { kind: "runs", output: [/nats-0/, /nats-1/, /nats-2/, /fluo-cluster/] },
  "nats --context fluo-monitor server report jetstream": { kind: "runs", output: [/nats-0/, /nats-1/, /nats-2/, /nats-\d\*/] },
  "nats --context fluo-provisioner stream purge <stream>": {
    kind: "runs",
    fill: { "<stream>": SCRATCH.name },
    extraArgs: ["-f"],
    output: [new RegExp(`Purged 5 messages from ${SCRATCH.name}`), /Messages: 0\b/],
  },
  // With 3 servers every one already holds a replica of an R3 stream: there is nowhere to move it.
  "nats --context fluo-provisioner stream cluster peer-remove <stream> <server>": {
    kind: "fails",
    fill: { "<stream>": SCRATCH.name, "<server>": "nats-1" },
    extraArgs: ["-f"],
    output: [/Removing peer "nats-1"/, /peer remap failed \(10075\)/],
  },
  // Destructive to the cluster: run by its own test below, on a server that is really gone.
  "nats --context fluo-operator server cluster peer-remove <server>": { kind: "mention", see: "peer-remove" },
  "nats stream get": { kind: "mention", see: "stream get" },
  "nats stream view": { kind: "mention", see: "stream view" },
};

let stack: MonitoredCluster;
let contexts: Record<string, string>;
let provisionerJsm: JetStreamManager;

function nats(args: readonly string[], timeoutMs = 20_000): { status: number | null; output: string } {
  const run = spawnSync(NATS, [...args], { encoding: "utf8", timeout: timeoutMs });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The runbook command as argv: `--context <user>` becomes that user's context file, placeholders filled. */
function argv(command: string, overrides: Readonly<Record<string, string>> = {}): string[] {
  const fill: Record<string, string> = { "<stream>": "JOBS", "<consumer>": "trace-analysis", "<seq>": "1", "<stream_seq>": "1", ...overrides };
  return command
    .split(" ")
    .slice(1)
    .map((word, i, words) =>
      words[i - 1] === "--context"
        ? contexts[word]
        : // Shell quoting as the README writes it: '...' is one word, taken literally, placeholders filled.
          word.replace(/^'(.*)'$/, "$1").replace(/<[a-z_]+>/g, (p) => fill[p] ?? p),
    );
}

beforeAll(async () => {
  stack = await startMonitoredCluster();
  contexts = {};
  for (const user of ["fluo-provisioner", "fluo-monitor", "fluo-operator", "fluo-backend"] as const) {
    const path = join(stack.stateDir, `${user}.json`);
    writeFileSync(path, JSON.stringify(contextFile(user, stack.cluster.servers, { password: stack.passwords[user] })), { mode: 0o600 });
    contexts[user] = path;
  }
  // A dead letter: JOBS#1 nak'd until trace-analysis's max_deliver of 4 (a NAK without delay is redelivered at
  // once; with a delay, the server adds it to the backoff step minus ack_wait: 5 minutes at the second NAK here).
  const bff = await stack.connectAs("fluo-bff");
  await publish(bff, "jobs.trace_analysis", 1);
  const workers = await stack.connectAs("fluo-workers");
  const consumer = await workers.jetstream().consumers.get("JOBS", "trace-analysis");
  for (let delivery = 1; delivery <= 4; delivery++) {
    const m = await consumer.next({ expires: 5_000 });
    if (!m || m.seq !== 1) throw new Error(`delivery ${delivery}: expected JOBS#1, got ${m ? `#${m.seq}` : "nothing"}`);
    m.nak();
  }
  // Then a job delivered twice and left unacked, so the consumer shows a redelivery in progress.
  await publish(bff, "jobs.trace_analysis", 1);
  for (let delivery = 1; delivery <= 2; delivery++) {
    const m = await consumer.next({ expires: 5_000 });
    if (!m || m.seq !== 2) throw new Error(`delivery ${delivery}: expected JOBS#2, got ${m ? `#${m.seq}` : "nothing"}`);
    if (delivery === 1) m.nak();
  }
  provisionerJsm = await (await stack.connectAs("fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
  await waitFor("the max-deliveries advisory in DEADLETTER", 15_000, async () =>
    (await provisionerJsm.streams.info("DEADLETTER")).state.messages === 1 ? true : undefined,
  );
  await provisionerJsm.streams.add({ name: SCRATCH.name, subjects: [SCRATCH.subject], num_replicas: 3 });
  await publish(bff, SCRATCH.subject, 5);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

describe("alert runbooks", () => {
  it("every nats command and endpoint in the runbooks has an expectation here", () => {
    expect(natsCommands.filter((c) => !(c in EXPECTATIONS))).toEqual([]);
    expect(Object.keys(EXPECTATIONS).filter((c) => !natsCommands.includes(c))).toEqual([]);
    expect(endpoints.sort()).toEqual(["/connz?sort=pending", "/healthz", "/jsz", "/jsz?streams=1", "/jsz?streams=1&consumers=1", "/routez", "/varz"]);
  });

  for (const [command, expectation] of Object.entries(EXPECTATIONS)) {
    if (expectation.kind === "fails") {
      it(`fails as the runbook says: ${command}`, () => {
        const result = nats([...argv(command, expectation.fill), ...(expectation.extraArgs ?? [])]);
        expect(result.output).not.toMatch(/permissions violation/i);
        expect(result.status).not.toBe(0);
        for (const pattern of expectation.output) expect(result.output).toMatch(pattern);
      });
    }
    if (expectation.kind !== "runs") continue;
    it(`runs: ${command}`, async () => {
      const result = nats([...argv(command, expectation.fill), ...(expectation.extraArgs ?? [])]);
      expect(result.output).not.toMatch(/permissions violation/i);
      expect(result.status, result.output).toBe(0);
      for (const pattern of expectation.output) expect(result.output).toMatch(pattern);
      await expectation.after?.();
    });
  }

  it("nats stream view shows no stack user a message: JOBS cannot be paged, other streams' pagers cannot be pulled", () => {
    // natscli pages only on a terminal: `script` gives it one.
    const view = (stream: string) => {
      const cmd = [NATS, "--context", contexts["fluo-provisioner"], "--timeout", "2s", "stream", "view", stream].map((a) => `'${a}'`).join(" ");
      const run = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 20_000, input: "" });
      return `${run.stdout}${run.stderr}`;
    };
    expect(view("JOBS")).toContain("work queue retention streams can only be paged if direct access is allowed");
    expect(view("EVENTS")).toMatch(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.MSG\.NEXT\.EVENTS\./);
  });

  it("every monitoring endpoint answers with the fields the runbooks read", async () => {
    const node = stack.cluster.nodes[0];
    const get = async (path: string) => JSON.parse(await httpGet(`${node.monitorUrl}${path}`)) as Record<string, unknown>;
    expect(await get("/healthz")).toEqual({ status: "ok" });
    expect(await get("/varz")).toMatchObject({ server_name: "nats-0", slow_consumer_stats: expect.any(Object) });
    expect(((await get("/routez")).routes as unknown[]).length).toBeGreaterThan(0);
    expect((await get("/jsz")).meta_cluster).toMatchObject({ leader: expect.stringMatching(/^nats-\d$/) });
    const detailed = await get("/jsz?streams=1&consumers=1");
    expect(JSON.stringify(detailed)).toContain('"name":"trace-analysis"');
    expect(JSON.stringify(await get("/jsz?streams=1"))).toContain('"name":"DEADLETTER"');
    expect(await get("/connz?sort=pending")).toMatchObject({ connections: expect.any(Array) });
  });

  it("the metrics the runbooks name are in the exporter's metric list", () => {
    const names = committedMetricList().map((f) => f.name);
    const named = [...new Set([...RUNBOOKS.matchAll(/`(nats_[a-z_*]+)`/g)].map((m) => m[1]))];
    expect(named.length).toBeGreaterThan(0);
    for (const n of named) expect(names.some((m) => (n.endsWith("*") ? m.startsWith(n.slice(0, -1)) : m === n)), n).toBe(true);
  });

  it("peer-remove: with a server gone for good, fluo-operator removes it and the rest keep their meta leader", async () => {
    const jsz = JSON.parse(await httpGet(`${stack.cluster.nodes[0].monitorUrl}/jsz`)) as { meta_cluster: { leader: string } };
    const gone = stack.cluster.nodes.find((n) => n.name !== jsz.meta_cluster.leader)!;
    const alive = stack.cluster.nodes.find((n) => n !== gone)!;
    process.kill(stack.cluster.pids[stack.cluster.nodes.indexOf(gone)], "SIGKILL");
    const result = await waitFor(`peer-remove of ${gone.name}`, 30_000, async () => {
      const run = nats([...argv(`nats --context fluo-operator server cluster peer-remove ${gone.name}`), "-f"]);
      return run.status === 0 ? run : undefined;
    });
    expect(result.output).not.toMatch(/error/i);
    await waitFor(`${gone.name} out of the meta group`, 15_000, async () => {
      const meta = (JSON.parse(await httpGet(`${alive.monitorUrl}/jsz`)) as { meta_cluster: { leader?: string; replicas?: { name: string }[] } }).meta_cluster;
      return meta.leader && !(meta.replicas ?? []).some((r) => r.name === gone.name) ? true : undefined;
    });
  }, 60_000);
});
