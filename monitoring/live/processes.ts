// Child processes of the live monitoring runs (exporters, Prometheus): started with their output in a log file,
// killed when this process exits (a failed test or Ctrl-C never leaves one behind), stopped by their own pid.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it is gone. Safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
  /** Sends a signal (e.g. SIGKILL to simulate a crash) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export function startProcess(name: string, binary: string, args: readonly string[], logPath: string): ManagedProcess {
  const log = openSync(logPath, "a");
  const child = spawn(binary, [...args], { stdio: ["ignore", log, log] });
  closeSync(log);
  running.add(child);
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      running.delete(child);
      resolve();
    });
    child.once("error", () => {
      running.delete(child);
      resolve();
    });
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null || !running.has(child);
  const kill = async (signal: NodeJS.Signals) => {
    if (!gone()) child.kill(signal);
    await exit;
  };
  return {
    name,
    pid: child.pid ?? -1,
    logPath,
    get exited() {
      return gone();
    },
    async stop(timeoutMs = 5_000) {
      if (gone()) return exit;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
    kill,
  };
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined); fails after `timeoutMs` naming `what` and the last error. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(everyMs);
  }
}

/** GET returning the body, failing on a non-2xx status. */
export async function httpGet(url: string, timeoutMs = 5_000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}: ${body.slice(0, 200)}`);
  return body;
}
