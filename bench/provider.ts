// npm run bench:provider [-- --sizes 10,100,300] [--replicas 1|3] [--parallel 10]
// The stream provider against a local 3-node cluster (local/localCluster.ts, fresh per size): create N
// synthetic streams with 5 consumers each through the provider's create (up to --parallel operations in
// flight over the one shared connection, as the engine runs independent resources), then a no-op refresh (read + diff)
// of every resource, then the drift comparison that `npm run drift` runs. Prints time per phase and per
// resource, and how many NATS client connections each phase opened (servers' /varz total_connections).
// A benchmark, not a test: it asserts nothing about time, only that the no-op phases found no change.

import { availableParallelism, cpus } from "node:os";
import { parseCommandLine, UsageError, type CommandSpec } from "../cli/args";
import { exitWhenFlushed, runCli } from "../cli/errors";
import { compareCatalog, readLiveState } from "../streams/ops/drift";
import { closeConnections, DEFAULT_RETRY, jetStreamManager } from "../streams/provider/client";
import { consumerInputs, consumerOps } from "../streams/provider/consumer";
import { streamInputs, streamOps } from "../streams/provider/stream";
import { createThroughProvider, pool, type Created } from "./providerCreate";
import type { ProviderSettings } from "../streams/provider/settings";
import { startProvisioningCluster, type ProvisioningCluster } from "../streams/provider/provisioningCluster.testkit";
import { CONSUMERS_PER_STREAM, syntheticCatalog } from "./syntheticCatalog";

async function totalConnections(live: ProvisioningCluster): Promise<number> {
  let total = 0;
  for (const node of live.cluster.nodes) {
    const varz = (await (await fetch(`${node.monitorUrl}/varz`)).json()) as { total_connections?: number };
    total += varz.total_connections ?? 0;
  }
  return total;
}

interface Phase {
  readonly size: number;
  readonly phase: string;
  readonly resources: number;
  readonly ms: number;
  readonly connections: number;
  readonly note: string;
}

async function timed(live: ProvisioningCluster, size: number, phase: string, resources: number, run: () => Promise<string>): Promise<Phase> {
  const before = await totalConnections(live);
  const start = process.hrtime.bigint();
  const note = await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { size, phase, resources, ms, connections: (await totalConnections(live)) - before, note };
}

async function benchOne(size: number, replicas: number, parallel: number): Promise<Phase[]> {
  const live = await startProvisioningCluster(3);
  const settings: ProviderSettings = { connection: live.provisioner, allowDestroy: [], timeoutMs: DEFAULT_RETRY.totalMs };
  const catalog = syntheticCatalog(size, replicas);
  const streams = catalog.streams.map(streamInputs);
  const consumers = catalog.consumers.map(consumerInputs);
  const total = streams.length + consumers.length;
  const phases: Phase[] = [];
  try {
    let created: Created = { streams: new Map(), consumers: new Map() };
    phases.push(
      await timed(live, size, "create", total, async () => {
        created = await createThroughProvider(settings, streams, consumers, parallel);
        return `${streams.length} streams (R${replicas}), ${consumers.length} consumers`;
      }),
    );
    const { streams: streamOuts, consumers: consumerOuts } = created;
    phases.push(
      await timed(live, size, "refresh (read+diff)", total, async () => {
        let changed = 0;
        await pool(streams, parallel, async (s) => {
          const read = await streamOps.read(settings, s.name, streamOuts.get(s.name));
          if ((await streamOps.diff(settings, s.name, read.props!, s)).changes) changed++;
        });
        await pool(consumers, parallel, async (c) => {
          const id = `${c.stream}/${c.name}`;
          const read = await consumerOps.read(settings, id, consumerOuts.get(id));
          if ((await consumerOps.diff(settings, id, read.props!, c)).changes) changed++;
        });
        if (changed > 0) throw new Error(`no-op refresh found ${changed} changed resource(s)`);
        return "0 changes";
      }),
    );
    phases.push(
      await timed(live, size, "drift (list+compare)", total, async () => {
        const drifts = compareCatalog(catalog, await readLiveState(await jetStreamManager(live.provisioner)));
        if (drifts.length > 0) throw new Error(`drift found ${drifts.length} difference(s) on a clean server`);
        return "0 differences";
      }),
    );
  } finally {
    await closeConnections();
    await live.stop();
  }
  return phases;
}

function table(rows: readonly Phase[]): string {
  const cells = [
    ["N", "phase", "resources", "total", "per resource", "connections opened", "result"],
    ...rows.map((r) => [
      String(r.size),
      r.phase,
      String(r.resources),
      `${(r.ms / 1000).toFixed(2)} s`,
      `${(r.ms / r.resources).toFixed(2)} ms`,
      String(r.connections),
      r.note,
    ]),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

export const BENCH_PROVIDER: CommandSpec<"sizes" | "replicas" | "parallel"> = {
  command: "npm run bench:provider --",
  summary: "the stream provider's create, no-op refresh and drift of N synthetic streams x 5 consumers on a local 3-node cluster",
  options: {
    sizes: { value: "<n,n,...>", help: "stream counts to measure, comma-separated (default 10,100,300)" },
    replicas: { value: "<1|3>", help: "replicas of the synthetic streams (default 3)" },
    parallel: { value: "<n>", help: "provider operations in flight, as the engine runs them (default 10)" },
  },
};

async function benchProvider(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(BENCH_PROVIDER, argv);
  const sizes = (values.sizes ?? "10,100,300").split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--sizes "${values.sizes}": comma-separated positive integers`);
  const replicas = Number(values.replicas ?? "3");
  if (replicas !== 1 && replicas !== 3) throw new UsageError(`--replicas "${values.replicas}": 1 or 3`);
  const parallel = Number(values.parallel ?? "10");
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel "${values.parallel}": a positive integer`);
  console.log(`bench:provider on ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}, nats-server 3 nodes on 127.0.0.1, ${parallel} operations in flight`);
  const rows: Phase[] = [];
  for (const size of sizes) {
    console.log(`N=${size}: ${size} streams x ${CONSUMERS_PER_STREAM} consumers ...`);
    rows.push(...(await benchOne(size, replicas, parallel)));
  }
  console.log(table(rows));
  return 0;
}

void runCli("bench:provider", () => benchProvider(process.argv.slice(2))).then(exitWhenFlushed);
