// npm run bench:engine [-- --streams 100,300] [--replicas 1] [--parallel 10] [--skip-dev]
// Wall time of the real Pulumi engine (the pinned CLI through the npm scripts, test/engine.testkit.ts) on a
// local 3-node cluster: the dev stack (GitOps mode: manifests to a directory) first up and no-op preview, then
// for each size a synthetic catalog of N streams x 5 consumers (bench/syntheticProgram.ts): the provider's own
// create of it on a fresh cluster (bench:provider's create phase), then the engine's first up and no-op preview on
// another fresh cluster, with the state file's size and the commands' peak memory; the ratio of the two create
// times is what the engine adds (bench/engineReport.ts). Last, the largest catalog's evaluation under the SDK's mocks.
// A benchmark, not a test: it prints figures and fails only if a command fails or a no-op preview is not one.
// Targets (issue 9): dev preview under 10 s; no-op preview of 300x5 under 60 s; state under 10 MB at 300x5.
// Issue 20: 300x5 first up under 60 s, no-op preview under 15 s.

import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import * as pulumi from "@pulumi/pulumi";
import { HelpRequested, parseCommandLine, UsageError, type CommandSpec } from "../cli/args";
import { readStackConfig } from "../infra/stackFile";
import { deploymentModel } from "../model";
import { passwordHashes, SALT_KEY_BYTES } from "../infra/passwordHash";
import { userSpecs, type UserName } from "../infra/users";
import { LocalCluster } from "../local/localCluster";
import { startProvisioningCluster } from "../streams/provider/provisioningCluster.testkit";
import { closeConnections, DEFAULT_RETRY } from "../streams/provider/client";
import { consumerInputs } from "../streams/provider/consumer";
import { streamInputs } from "../streams/provider/stream";
import { EngineProject, type CommandOutput } from "../test/engine.testkit";
import { CONSUMERS_PER_STREAM, syntheticCatalog } from "./syntheticCatalog";
import { ratioTable, type SizeFigures } from "./engineReport";
import { withPeakRss } from "./processTree";
import { createThroughProvider } from "./providerCreate";

interface Row {
  readonly what: string;
  readonly seconds: number;
  readonly note: string;
}

async function timed(what: string, run: () => Promise<CommandOutput>, note: (out: CommandOutput) => string = () => ""): Promise<Row> {
  const start = process.hrtime.bigint();
  const out = await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (out.code !== 0) throw new Error(`${what} failed (exit ${out.code}):\n${out.text.slice(-4000)}`);
  return { what, seconds, note: note(out) };
}

const noChange = (out: CommandOutput): string => {
  if (/\bto (create|update|delete|replace)\b/.test(out.text)) throw new Error(`a no-op preview planned changes:\n${out.text.slice(-3000)}`);
  return "no changes";
};

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MB`;

async function benchDev(project: EngineProject): Promise<Row[]> {
  const config = readStackConfig("dev");
  const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `bench-${u.name}`])) as Record<UserName, string>;
  const saltKey = randomBytes(SALT_KEY_BYTES).toString("base64");
  const cluster = await LocalCluster.start({
    config,
    grants: deploymentModel(config).grants,
    hashes: passwordHashes(passwords, saltKey),
    stateDir: `${project.dir}/../dev-cluster`,
    limits: { maxMemoryStore: 256 * 2 ** 20, maxFileStore: 16 * 2 ** 30 },
  });
  try {
    await cluster.waitForMetaLeader();
    project.cliOk(["stack", "init", "dev", "--secrets-provider", "passphrase"]);
    project.cliOk([
      "config", "set-all", "--stack", "dev",
      "--plaintext", `fluo-queue:natsUrl=${cluster.servers.join(",")}`,
      "--plaintext", `fluo-queue:renderYamlToDirectory=${project.manifests}`,
      ...userSpecs().flatMap((u) => ["--secret", `fluo-queue:${u.passwordKey}=${passwords[u.name]}`]),
      // Everything the random provider would generate (it cannot be built from the module proxy).
      "--secret", "fluo-queue:routePassword=bench-route",
      "--secret", `fluo-queue:bcryptSaltKey=${saltKey}`,
    ]);
    const rows = [
      await timed("dev: first up", () => project.npm("deploy", ["--stack", "dev"])),
      await timed("dev: no-op preview", () => project.npm("preview", ["--stack", "dev", "--expect-no-changes"]), noChange),
    ];
    rows.push({ what: "dev: state file", seconds: NaN, note: mb(statSync(project.statePath("dev")).size) });
    return rows;
  } finally {
    await cluster.stop();
  }
}

/** The provider's own create of the synthetic catalog on a fresh cluster: the baseline of the engine's. */
async function providerCreateSeconds(streams: number, replicas: number, parallel: number): Promise<number> {
  const live = await startProvisioningCluster(3);
  try {
    const catalog = syntheticCatalog(streams, replicas);
    const start = process.hrtime.bigint();
    await createThroughProvider(
      { connection: live.provisioner, allowDestroy: [], timeoutMs: DEFAULT_RETRY.totalMs },
      catalog.streams.map(streamInputs),
      catalog.consumers.map(consumerInputs),
      parallel,
    );
    return Number(process.hrtime.bigint() - start) / 1e9;
  } finally {
    await closeConnections();
    await live.stop();
  }
}

async function benchSynthetic(streams: number, replicas: number, parallel: number): Promise<{ rows: Row[]; figures: SizeFigures }> {
  const providerSeconds = await providerCreateSeconds(streams, replicas, parallel);
  const project = EngineProject.create({ kubernetes: false });
  const live = await startProvisioningCluster(3);
  const env = { FLUO_BENCH_STREAMS: String(streams), FLUO_BENCH_REPLICAS: String(replicas) };
  const label = `${streams}x${CONSUMERS_PER_STREAM}`;
  // The benchmark's own nats-servers are children of this process too: not part of a command's memory.
  const servers = new Set(live.cluster.pids);
  try {
    project.write("index.ts", 'export * from "./bench/syntheticProgram";\n');
    project.cliOk(["stack", "init", "bench", "--secrets-provider", "passphrase"]);
    project.cliOk([
      "config", "set-all", "--stack", "bench",
      "--plaintext", `fluo-queue:natsUrl=${live.provisioner.servers.join(",")}`,
      "--secret", `fluo-queue:provisionerPassword=${live.provisioner.password}`,
    ]);
    const resources = streams * (1 + CONSUMERS_PER_STREAM);
    const up = await withPeakRss(() => timed(`${label}: first up`, () => project.npm("deploy", ["--stack", "bench"], env), () => `${resources} dynamic resources, R${replicas}`), servers);
    const preview = await withPeakRss(() => timed(`${label}: no-op preview`, () => project.npm("preview", ["--stack", "bench", "--expect-no-changes"], env), noChange), servers);
    const size = statSync(project.statePath("bench")).size;
    const rows = [
      up.result,
      preview.result,
      { what: `${label}: state file`, seconds: NaN, note: `${mb(size)} (${(size / resources / 1024).toFixed(1)} KiB per resource)` },
    ];
    const figures: SizeFigures = {
      streams,
      resources,
      providerCreateSeconds: providerSeconds,
      engineUpSeconds: up.result.seconds,
      previewSeconds: preview.result.seconds,
      stateBytes: size,
      upPeakRssBytes: up.peakRssBytes,
      previewPeakRssBytes: preview.peakRssBytes,
    };
    return { rows, figures };
  } finally {
    await live.stop();
    project.remove();
  }
}

/** The synthetic program under the SDK's mocks: registration of every resource, no engine. */
async function mockEvaluation(streams: number, replicas: number): Promise<Row> {
  process.env.FLUO_BENCH_STREAMS = String(streams);
  process.env.FLUO_BENCH_REPLICAS = String(replicas);
  let registered = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered++;
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "fluo-queue",
    "bench",
    false,
  );
  pulumi.runtime.setAllConfig({ "fluo-queue:natsUrl": "nats://127.0.0.1:4222", "fluo-queue:provisionerPassword": "mock" });
  const expected = streams * (1 + CONSUMERS_PER_STREAM);
  const start = process.hrtime.bigint();
  await import("./syntheticProgram");
  // Dynamic resources register after their provider is serialized: wait for the last one.
  while (registered < expected) await new Promise((r) => setTimeout(r, 20));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { what: `${streams}x${CONSUMERS_PER_STREAM}: evaluation under mocks`, seconds, note: `${registered} registrations, no engine` };
}

function table(rows: readonly Row[]): string {
  const cells = [["what", "wall time", "note"], ...rows.map((r) => [r.what, Number.isNaN(r.seconds) ? "" : `${r.seconds.toFixed(1)} s`, r.note])];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

const BENCH_COMMAND: CommandSpec<"streams" | "replicas" | "parallel" | "skip-dev"> = {
  command: "npm run bench:engine --",
  summary: "wall time of the real Pulumi engine on the dev stack and synthetic catalogs, beside the provider's own create",
  options: {
    streams: { value: "<n,n,...>", help: "streams of each synthetic catalog, 5 consumers each, comma-separated (default 100,300)" },
    replicas: { value: "<1|3>", help: "replicas of the synthetic streams (default 1)" },
    parallel: { value: "<n>", help: "provider operations in flight in the provider's own create (default 10, as bench:provider)" },
    "skip-dev": { help: "only the synthetic catalogs" },
  },
};

async function main(argv: readonly string[]): Promise<number> {
  let dev: EngineProject | undefined;
  try {
    const { values, switches } = parseCommandLine(BENCH_COMMAND, argv);
    const sizes = (values.streams ?? "100,300").split(",").map(Number);
    if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--streams "${values.streams}": comma-separated positive integers`);
    const replicas = Number(values.replicas ?? "1");
    if (replicas !== 1 && replicas !== 3) throw new UsageError(`--replicas "${values.replicas}": 1 or 3`);
    const parallel = Number(values.parallel ?? "10");
    if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel "${values.parallel}": a positive integer`);
    const started = new Date().toISOString().slice(0, 16).replace("T", " ");
    console.log(`bench:engine ${started} UTC on ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; nats-server 3 nodes on 127.0.0.1; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    const rows: Row[] = [];
    if (!switches.has("skip-dev")) {
      dev = EngineProject.create();
      rows.push(...(await benchDev(dev)));
    }
    const figures: SizeFigures[] = [];
    for (const streams of sizes) {
      const run = await benchSynthetic(streams, replicas, parallel);
      rows.push(...run.rows);
      figures.push(run.figures);
    }
    rows.push(await mockEvaluation(Math.max(...sizes), replicas));
    console.log(table(rows));
    console.log("");
    console.log(ratioTable(figures, CONSUMERS_PER_STREAM));
    console.log(`provider create: ${parallel} operations in flight, fresh cluster; ratio = engine first up / provider create, same resources, same run`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (wall times on a shared machine grow with it)`);
    console.log("targets: dev no-op preview < 10 s; 300x5 no-op preview < 15 s (issue 20; 60 s in issue 9); 300x5 first up < 60 s; 300x5 state < 10 MB");
    return 0;
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(err.usage);
      return 0;
    }
    console.error(`bench:engine: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    dev?.remove();
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
