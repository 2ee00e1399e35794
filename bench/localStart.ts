// npm run bench:local [-- --runs 3] [--stop sigterm|lame-duck]
// Time to Ready of `npm run local` on a fresh state directory against a restart on the directory the fresh run
// left, with a phase split from the CLI's own progress lines and, from the servers' logs, when the JetStream meta
// leader and the last stream/consumer leader were elected after the first server started (issue 14, item 9).
// Each run: fresh start in a new temp state dir -> Ready -> stop -> restart on that dir -> Ready -> SIGTERM. The
// stop before the restart is local mode's (SIGTERM to the CLI, which SIGTERMs the servers) or, with
// --stop lame-duck, lame duck mode on every server first (SIGUSR2, what `nats-server --signal ldm` sends: leaders
// handed over, then exit), to see whether how a cluster stops changes how fast it starts again.
// A benchmark, not a test: it prints figures and fails only if a start does not reach Ready.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine, positiveInteger, UsageError, type CommandSpec } from "../cli/args";
import { exitWhenFlushed, runCli } from "../cli/errors";
import { canListen } from "../local/localCluster";
import { PORT_RANGE_STRIDE, portsFromBase } from "../local/ports";
import { percentile } from "./stats";
import { phaseSplit, serverElections, type PhaseSplit, type ServerElections } from "./localStartPhases";

export const BENCH_LOCAL: CommandSpec<"runs" | "stop"> = {
  command: "npm run bench:local --",
  summary: "times npm run local to Ready on a fresh state dir and on a restart of it, phase by phase",
  options: {
    runs: { value: "<n>", help: "fresh + restart pairs (default 3); medians are printed" },
    stop: { value: "<sigterm|lame-duck>", help: "how the fresh run's servers stop before the restart (default sigterm, as local mode does)" },
  },
};

type StopMode = "sigterm" | "lame-duck";

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Lame duck on every server at once, then waits until all have exited (the CLI's SIGTERM then finds them gone). */
async function lameDuck(pids: readonly number[]): Promise<void> {
  for (const pid of pids) process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + 120_000;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) throw new Error(`servers ${pids.filter(isAlive).join(",")} still running 120 s after lame duck`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ROOT = join(__dirname, "..");
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");
const SERVERS = 3;

/** A base port whose ranges are free and stay below the ephemeral range (as the live tests pick them). */
async function freeBasePort(): Promise<number> {
  const highestBase = 32_000 - 2 * PORT_RANGE_STRIDE - SERVERS;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (highestBase - 20_000));
    let free = true;
    for (const p of portsFromBase(base, SERVERS)) for (const port of [p.client, p.cluster, p.monitor]) free &&= await canListen(port);
    if (free) return base;
  }
  throw new Error("no free port range found below 32000");
}

interface StartRun {
  readonly split: PhaseSplit;
  readonly elections: ServerElections;
  /** The first server's start, in seconds after the CLI was spawned (from its log). */
  readonly serversStartedSeconds: number;
  /** From the stop (SIGTERM, or lame duck) to the CLI's exit (servers stopped). */
  readonly stopSeconds: number;
}

const logPaths = (stateDir: string): string[] => Array.from({ length: SERVERS }, (_, i) => join(stateDir, `nats-${i}`, "nats.log"));
const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** One `npm run local` (as its npm script runs it: tsx cli/local.ts) until Ready, then SIGTERM and its exit. */
async function timeStart(stateDir: string, basePort: number, stop: StopMode): Promise<StartRun> {
  const logs = logPaths(stateDir);
  const offsets = logs.map(sizeOf);
  const spawnedAt = performance.now();
  const spawnedAtWall = Date.now();
  const child = spawn(process.execPath, [TSX, join(ROOT, "cli/local.ts"), "--state-dir", stateDir, "--base-port", String(basePort)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Array<{ readonly ms: number; readonly text: string }> = [];
  let pending = "";
  let stderr = "";
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    const ms = performance.now() - spawnedAt;
    pending += chunk.toString();
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    for (const text of complete) {
      lines.push({ ms, text });
      if (text.startsWith("Ready:")) onReady();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill("SIGTERM"), 90_000);
  try {
    const code = await Promise.race([ready.then(() => undefined), exited]);
    if (code !== undefined) {
      const out = lines.map((l) => l.text).join("\n");
      throw new Error(`npm run local exited (${code}) before Ready:\n${out}\n${stderr}`);
    }
  } finally {
    clearTimeout(timer);
  }
  const stopAt = performance.now();
  if (stop === "lame-duck") {
    const readyLine = lines.find((l) => l.text.startsWith("Ready:"))?.text ?? "";
    const pids = /\(pids ([\d,]+)\)/.exec(readyLine)?.[1].split(",").map(Number) ?? [];
    if (pids.length !== SERVERS) throw new Error(`no server pids in the Ready line: ${readyLine}`);
    await lameDuck(pids);
  }
  child.kill("SIGTERM");
  await exited;
  const stopSeconds = (performance.now() - stopAt) / 1000;
  const newLog = (path: string, i: number): string => readFileSync(path, "utf8").slice(offsets[i]);
  const elections = serverElections(logs.map(newLog));
  return { split: phaseSplit(lines), elections, serversStartedSeconds: (elections.firstStartMs - spawnedAtWall) / 1000, stopSeconds };
}

const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 0.5);
const secs = (n: number): string => (Number.isNaN(n) ? "-" : n.toFixed(1));

function table(fresh: readonly StartRun[], restart: readonly StartRun[]): string {
  const phases = fresh[0].split.phases.map((p) => p.phase);
  const both = (figure: (r: StartRun) => number): [number, number] => [median(fresh.map(figure)), median(restart.map(figure))];
  const rows: Array<[string, [number, number]]> = [
    ...phases.map((phase): [string, [number, number]] => [phase, both((r) => r.split.phases.find((p) => p.phase === phase)?.seconds ?? Number.NaN)]),
    ["= Ready (after spawn)", both((r) => r.split.readySeconds)],
    ["stop (to the CLI's exit)", both((r) => r.stopSeconds)],
    ["server log: first server started", both((r) => r.serversStartedSeconds)],
    ["server log: meta leader elected", both((r) => r.serversStartedSeconds + r.elections.metaLeaderSeconds)],
    ["server log: last stream/consumer leader", both((r) => r.serversStartedSeconds + r.elections.lastGroupLeaderSeconds)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  return [
    `${"phase (median seconds)".padEnd(width)}  fresh  restart`,
    ...rows.map(([phase, [f, r]]) => `${phase.padEnd(width)}  ${secs(f).padStart(5)}  ${secs(r).padStart(7)}`),
    "server log rows: seconds after the CLI was spawned, from each server's own log lines",
  ].join("\n");
}

const runLine = (r: StartRun): string =>
  `Ready ${secs(r.split.readySeconds)} s (servers started +${secs(r.serversStartedSeconds)}, meta leader +${secs(r.serversStartedSeconds + r.elections.metaLeaderSeconds)}, ` +
  `last stream/consumer leader +${secs(r.serversStartedSeconds + r.elections.lastGroupLeaderSeconds)})`;

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(BENCH_LOCAL, argv);
  const runs = positiveInteger("runs", values.runs, 3);
  const stop = values.stop ?? "sigterm";
  if (stop !== "sigterm" && stop !== "lame-duck") throw new UsageError(`--stop "${stop}": must be sigterm or lame-duck`);
  console.log(`bench:local: ${runs} x (fresh start, ${stop} stop, restart), ${SERVERS} servers, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const fresh: StartRun[] = [];
  const restart: StartRun[] = [];
  for (let i = 1; i <= runs; i++) {
    // The bench's own temp directories: never the user's .local.
    const stateDir = mkdtempSync(join(tmpdir(), "fluo-bench-local-"));
    try {
      const basePort = await freeBasePort();
      const f = await timeStart(stateDir, basePort, stop);
      const r = await timeStart(stateDir, basePort, "sigterm");
      fresh.push(f);
      restart.push(r);
      console.log(`  run ${i} fresh:   ${runLine(f)}`);
      console.log(`  run ${i} restart: ${runLine(r)}`);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  console.log(table(fresh, restart));
  return 0;
}

void runCli("bench:local", () => main(process.argv.slice(2))).then(exitWhenFlushed);
