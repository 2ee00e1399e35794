// Runs a CLI as the user does: a child process (tsx, as the npm scripts run it), its stdout, stderr and exit
// code, so a test sees exactly what a terminal would, stack traces included.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { runningServers, stateLayout } from "../local/stateDir";
// One port picker for every test that starts local mode: its ranges stay below the ephemeral ports.
import { freeBasePort } from "../local/localCluster";
export { freeBasePort };

// FLUO_CLI_ROOT runs the same tests against another checkout (e.g. main, to see a test fail on the old code).
export const PROJECT_ROOT = process.env.FLUO_CLI_ROOT ?? join(__dirname, "..");
const TSX = join(PROJECT_ROOT, "node_modules/tsx/dist/cli.mjs");

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
}

/** `script` relative to the project root, e.g. "cli/render.ts". */
export function runCliSync(script: string, args: readonly string[], options: CliOptions = {}): CliRun {
  const result = spawnSync(process.execPath, [TSX, join(PROJECT_ROOT, script), ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** As runCliSync, without blocking the test's event loop (for CLIs that talk to servers the test runs). */
export function runCli(script: string, args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, join(PROJECT_ROOT, script), ...args], {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A user error's output: exactly one line on stderr, starting with the command's name, and no stack trace. */
export function expectOneLineError(run: CliRun, command: string): string {
  const lines = run.stderr.trimEnd().split("\n");
  if (run.code !== 1 || lines.length !== 1 || !lines[0].startsWith(`${command}: `) || / at .*:\d+:\d+/.test(run.stderr)) {
    // The child's stack frames are quoted with their "at" removed: vitest would try to source-map them as ours.
    const quoted = run.stderr.replace(/^\s+at /gm, "    (frame) ");
    throw new Error(`expected exit 1 and one "${command}: ..." line on stderr, got exit ${run.code}:\n${quoted}`);
  }
  return lines[0];
}

/** A running `npm run local` child process, from its "Ready:" line on. */
export interface LocalRun {
  readonly child: ChildProcess;
  /** Its stdout and stderr so far. */
  output(): string;
  readonly readyLine: string;
  readonly servers: readonly string[];
  readonly serverPids: readonly number[];
  /** SIGTERM, then waits for it to stop its servers and exit; its exit code. */
  stop(): Promise<number | null>;
}

/** Starts cli/local.ts with `args` and resolves at its "Ready:" line; rejects (output included) if it exits first. */
export async function startLocal(args: readonly string[], timeoutMs = 90_000): Promise<LocalRun> {
  const child = spawn(process.execPath, [TSX, join(PROJECT_ROOT, "cli/local.ts"), ...args], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    return exited;
  };
  let timer: NodeJS.Timeout | undefined;
  const readyLine = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const line = output.split("\n").find((l) => l.startsWith("Ready:"));
      if (line) return resolve(line);
      timer = setTimeout(check, 100);
    };
    check();
    void exited.then((code) => reject(new Error(`npm run local ${args.join(" ")} exited (${code}) before Ready:\n${output}`)));
    setTimeout(() => reject(new Error(`npm run local ${args.join(" ")}: no Ready line within ${timeoutMs} ms:\n${output}`)), timeoutMs).unref();
  }).catch(async (err: unknown) => {
    clearTimeout(timer);
    await stop();
    throw err;
  });
  clearTimeout(timer);
  return {
    child,
    output: () => output,
    readyLine,
    servers: /^Ready: (\S+)/.exec(readyLine)![1].split(","),
    serverPids: /\(pids ([\d,]+)\)/.exec(readyLine)![1].split(",").map(Number),
    stop,
  };
}

/**
 * The `npm run local` runs of one live test file, on one state directory and one free base port. A start first
 * stops the run before it (one cluster per state directory: a step that failed before stopping its run would get
 * the next start refused), and `cleanup` stops whatever any run started, a half-started one included (by the pids
 * seen and the state directory's pid files), then removes the directories given.
 */
export class LocalSession {
  private readonly pids = new Set<number>();
  private last: LocalRun | undefined;

  private constructor(
    readonly stateDir: string,
    readonly basePort: number,
  ) {}

  static async open(stateDir: string): Promise<LocalSession> {
    return new LocalSession(stateDir, await freeBasePort());
  }

  /** The flags that put a run of cli/local.ts on this session's state directory and ports. */
  get flags(): string[] {
    return ["--state-dir", this.stateDir, "--base-port", String(this.basePort)];
  }

  async start(args: readonly string[]): Promise<LocalRun> {
    await this.last?.stop();
    this.last = await startLocal([...args, ...this.flags]);
    for (const pid of this.last.serverPids) this.pids.add(pid);
    return this.last;
  }

  /** The run `start` gave last, until `stop` (for the assertions on what a running start printed). */
  get current(): LocalRun | undefined {
    return this.last;
  }

  /** Stops the current run and forgets it; its exit code (0 is a clean stop), or null when none was running. */
  async stop(): Promise<number | null> {
    const run = this.last;
    this.last = undefined;
    return run ? run.stop() : null;
  }

  async cleanup(...dirs: string[]): Promise<void> {
    await this.last?.stop();
    for (const pid of [...this.pids, ...runningServers(stateLayout(this.stateDir)).map((r) => r.pid)]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
