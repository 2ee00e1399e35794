// Runs a CLI as the user does: a child process (tsx, as the npm scripts run it), its stdout, stderr and exit
// code, so a test sees exactly what a terminal would, stack traces included.

import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

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
