// `npm run local` as an operator runs it (the README quick start command): a child process in a temp state
// directory, its Ready line, the smoke check against it, SIGTERM, and a second start that finds the data.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "nats";
import { runSmoke } from "../cli/smoke";
import { clientOptions, readContextFile } from "../lib/natsContext";
import { portsFromBase } from "../local/ports";
import { freeBasePort } from "../local/localCluster";
import { ADMIN_TIMEOUT_MS } from "./natsProbe.testkit";

const ROOT = join(__dirname, "..");
const stateDir = mkdtempSync(join(tmpdir(), "fluo-local-test-"));
const started: ChildProcess[] = [];
const serverPids: number[] = [];

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly pids: number[];
}

/** Starts `npm run local -- ...` and resolves once it printed its Ready line. */
async function startLocal(basePort: number): Promise<Running> {
  const child = spawn("npm", ["run", "local", "--", "--state-dir", stateDir, "--base-port", String(basePort)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = await Promise.race([
    new Promise<string>((resolve) => {
      const check = (): void => {
        const line = out.split("\n").find((l) => l.startsWith("Ready:"));
        if (line) resolve(line);
        else if (child.exitCode === null && child.signalCode === null) setTimeout(check, 100);
      };
      check();
    }),
    exited.then((code) => {
      throw new Error(`npm run local exited (${code}) before its Ready line:\n${out}`);
    }),
  ]);
  const pids = /\(pids ([\d,]+)\)/.exec(ready)?.[1].split(",").map(Number) ?? [];
  serverPids.push(...pids);
  return { child, output: () => out, exited, pids };
}

/**
 * The first start, on a free base port. Other processes on this machine (other test runs' clusters) draw ports
 * from the same range, so one can take a port between the check above and nats-server's bind: that start exits
 * with "address already in use" in a server log, and is retried on another base (as LocalCluster.start does).
 */
async function startLocalOnFreePorts(): Promise<{ basePort: number; running: Running }> {
  for (let attempt = 1; ; attempt++) {
    const basePort = await freeBasePort();
    try {
      return { basePort, running: await startLocal(basePort) };
    } catch (err) {
      const logs = [0, 1, 2].map((i) => join(stateDir, `nats-${i}`, "nats.log"));
      const lostPort = logs.some((l) => existsSync(l) && /address already in use/.test(readFileSync(l, "utf8")));
      if (!lostPort || attempt >= 3) throw err;
      for (const l of logs) rmSync(l, { force: true });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventsMessages(): Promise<number> {
  const nc = await connect(clientOptions(readContextFile(join(stateDir, "credentials", "fluo-provisioner.json"))));
  try {
    return (await (await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).streams.info("EVENTS")).state.messages;
  } finally {
    await nc.close();
  }
}

afterAll(async () => {
  // Whatever happened above, no server outlives the test.
  for (const child of started) if (child.exitCode === null) child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  for (const pid of serverPids) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
});

describe("npm run local", () => {
  it("starts, passes the smoke check, stops on SIGTERM and keeps the data for the next start", async () => {
    const { basePort, running: first } = await startLocalOnFreePorts();
    expect(first.pids).toHaveLength(3);
    expect(first.output()).toContain("JetStream meta leader");
    // It says which server it runs; the pinned build is the image's version, so there is nothing to warn about.
    expect(first.output()).toMatch(/ \.\. nats-server 2\.15\.3 \(pinned build: \S+\/nats-server-v2\.15\.3\/bin\/nats-server\)/);
    expect(first.output()).not.toContain("warning:");
    expect(first.output()).toMatch(/EVENTS\s+events\.>\s+limits\/file R3/);
    const provisionerFile = join(stateDir, "credentials", "fluo-provisioner.json");
    expect(statSync(provisionerFile).mode & 0o777).toBe(0o600);
    expect(readContextFile(provisionerFile).url).toBe(
      portsFromBase(basePort, 3).map((p) => `nats://127.0.0.1:${p.client}`).join(","),
    );
    const passwords = readFileSync(join(stateDir, "credentials", "passwords.json"), "utf8");

    const log: string[] = [];
    expect(await runSmoke(stateDir, (line) => log.push(line)), log.join("\n")).toBe(true);
    expect(log.filter((l) => l.startsWith("  ok "))).toHaveLength(7);
    const events = await eventsMessages();
    expect(events).toBeGreaterThanOrEqual(1);

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("SIGTERM: stopping 3 servers");
    expect(first.pids.filter(alive)).toEqual([]);
    expect(existsSync(join(stateDir, "nats-0", "data", "jetstream"))).toBe(true);

    const second = await startLocal(basePort);
    expect(readFileSync(join(stateDir, "credentials", "passwords.json"), "utf8")).toBe(passwords);
    expect(second.output()).toContain("0 created");
    // A restart waits for the streams' and consumers' Raft leaders before reading them (no 10 s request timeouts).
    expect(second.output()).toMatch(/streams and consumers current on every server \(\d+\.\d s\)\n.*applying the stream catalog.*\n.*\[1\/11\] stream JOBS: unchanged/);
    expect(second.output()).toMatch(new RegExp(`EVENTS .*\\| ${events} msgs`));
    expect(await eventsMessages()).toBe(events);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    expect(second.pids.filter(alive)).toEqual([]);
  }, 180_000);
});
