// Test kit: the pinned natscli run as a child process with its own HOME (so it reads no context or config of
// the machine's user), its output collected, and a hard timeout so a hung command cannot hang the test file.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { NATS_CLI, requireBinary } from "../tools/resolve";

export interface NatsCliResult {
  readonly code: number | null;
  /** stdout and stderr, interleaved as they came. */
  readonly out: string;
}

/** Runs `nats <args>` with HOME (and XDG_CONFIG_HOME) below `home`; killed after `timeoutMs`. */
export function runNatsCli(home: string, args: readonly string[], timeoutMs = 30_000): Promise<NatsCliResult> {
  const binary = requireBinary(NATS_CLI).path;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args], {
      env: { HOME: home, XDG_CONFIG_HOME: join(home, ".config"), PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}
