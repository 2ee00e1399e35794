// The alert runbooks stay true: every `nats` command and monitoring endpoint in the README's "Alert runbooks"
// section runs here against a local 3-node cluster (dev stack, catalog applied, the pinned nats-server and natscli),
// as the user its `--context` names, and prints what the runbook says to look at. Commands the runbooks say no
// stack user may run are refused by the server for the subject the README names, and no stack user's grants
// allow it. A command added to the runbooks without an entry here fails the first test. Needs no exporter.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subjectMatches } from "../infra/permissions";
import { APP_ACCOUNT, type UserName } from "../infra/users";
import { contextFile } from "../local/credentials";
import { NATS_CLI, requireBinary } from "../tools/resolve";
import { committedMetricList } from "./exporterMetrics";
import { httpGet, waitFor } from "./live/processes";
import { startMonitoredCluster, type MonitoredCluster } from "./live/stack";
import { publish } from "./live/traffic";

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
  /** Runs (exit 0) and its output matches every pattern. `<placeholders>` are filled from the fixture. */
  | { readonly kind: "runs"; readonly output: readonly RegExp[]; readonly extraArgs?: readonly string[] }
  /** The server refuses it as `user` with a permissions violation on `subject`, and no stack user may publish there. */
  | { readonly kind: "refused"; readonly user: UserName; readonly args: string; readonly subject: string }
  /** Named in prose; the command of `see` is the one run. */
  | { readonly kind: "mention"; readonly see: string };

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
  "nats --context fluo-system server ls": { kind: "runs", output: [/nats-0/, /nats-1/, /nats-2/, /fluo-cluster/] },
  "nats --context fluo-system server report jetstream": { kind: "runs", output: [/nats-0/, /nats-1/, /nats-2/, /nats-\d\*/] },
  // Destructive: run by its own test below, on a server that is really gone.
  "nats --context fluo-system server cluster peer-remove <server>": { kind: "mention", see: "peer-remove" },
  "nats stream purge <stream>": { kind: "refused", user: "fluo-provisioner", args: "stream purge EVENTS -f", subject: "$JS.API.STREAM.PURGE.EVENTS" },
  "nats stream purge": { kind: "mention", see: "nats stream purge <stream>" },
  "nats stream cluster peer-remove <stream> <server>": {
    kind: "refused",
    user: "fluo-provisioner",
    args: "stream cluster peer-remove EVENTS nats-1 -f",
    subject: "$JS.API.STREAM.PEER.REMOVE.EVENTS",
  },
  "nats stream cluster peer-remove": { kind: "mention", see: "nats stream cluster peer-remove <stream> <server>" },
  "nats stream get": { kind: "mention", see: "stream get" },
  "nats stream view": { kind: "mention", see: "stream view" },
};

let stack: MonitoredCluster;
let contexts: Record<string, string>;

function nats(args: readonly string[], timeoutMs = 20_000): { status: number | null; output: string } {
  const run = spawnSync(NATS, [...args], { encoding: "utf8", timeout: timeoutMs });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The runbook command as argv: `--context <user>` becomes that user's context file, placeholders filled. */
function argv(command: string): string[] {
  const fill: Record<string, string> = { "<stream>": "JOBS", "<consumer>": "trace-analysis", "<seq>": "1", "<stream_seq>": "1" };
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
  for (const user of ["fluo-provisioner", "fluo-system", "fluo-backend"] as const) {
    const path = join(stack.stateDir, `${user}.json`);
    writeFileSync(path, JSON.stringify(contextFile(user, stack.cluster.servers, stack.passwords[user])), { mode: 0o600 });
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
  const provisioner = await (await stack.connectAs("fluo-provisioner")).jetstreamManager();
  await waitFor("the max-deliveries advisory in DEADLETTER", 15_000, async () =>
    (await provisioner.streams.info("DEADLETTER")).state.messages === 1 ? true : undefined,
  );
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
    if (expectation.kind === "runs") {
      it(`runs: ${command}`, () => {
        const result = nats([...argv(command), ...(expectation.extraArgs ?? [])]);
        expect(result.output).not.toMatch(/permissions violation/i);
        expect(result.status, result.output).toBe(0);
        for (const pattern of expectation.output) expect(result.output).toMatch(pattern);
      });
    }
    if (expectation.kind === "refused") {
      it(`refused for every stack user: ${command} (${expectation.subject})`, () => {
        // fluo-system may publish anything, but in the system account, which has no streams.
        const allowed = stack.model.grants.filter(
          (g) => g.spec.account === APP_ACCOUNT && g.permissions.publish.allow.some((a) => subjectMatches(a, expectation.subject)),
        );
        expect(allowed.map((g) => g.spec.name)).toEqual([]);
        const s = stack.settings(expectation.user);
        const result = nats(["--server", s.servers.join(","), "--user", s.user, "--password", s.password, "--inbox-prefix", s.inboxPrefix, "--timeout", "2s", ...expectation.args.split(" ")]);
        expect(result.status).not.toBe(0);
        expect(result.output).toContain(`Permissions Violation for Publish to "${expectation.subject}"`);
      });
    }
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

  it("peer-remove: with a server gone for good, fluo-system removes it and the rest keep their meta leader", async () => {
    const jsz = JSON.parse(await httpGet(`${stack.cluster.nodes[0].monitorUrl}/jsz`)) as { meta_cluster: { leader: string } };
    const gone = stack.cluster.nodes.find((n) => n.name !== jsz.meta_cluster.leader)!;
    const alive = stack.cluster.nodes.find((n) => n !== gone)!;
    process.kill(stack.cluster.pids[stack.cluster.nodes.indexOf(gone)], "SIGKILL");
    const result = await waitFor(`peer-remove of ${gone.name}`, 30_000, async () => {
      const run = nats([...argv(`nats --context fluo-system server cluster peer-remove ${gone.name}`), "-f"]);
      return run.status === 0 ? run : undefined;
    });
    expect(result.output).not.toMatch(/error/i);
    await waitFor(`${gone.name} out of the meta group`, 15_000, async () => {
      const meta = (JSON.parse(await httpGet(`${alive.monitorUrl}/jsz`)) as { meta_cluster: { leader?: string; replicas?: { name: string }[] } }).meta_cluster;
      return meta.leader && !(meta.replicas ?? []).some((r) => r.name === gone.name) ? true : undefined;
    });
  }, 60_000);
});
