// A newcomer's commands against a running `npm run local`, each as a child process: a second start is refused
// naming the running cluster; drift, backup and bench find local mode's credentials by themselves (or take a
// nats CLI context file); the bench counts only its own jobs, so leftovers of an earlier run do not fail it
// or the smoke check after it.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientOptions, readContextFile } from "../lib/natsContext";
import { runningServers, stateLayout } from "../local/stateDir";
import { publishStored } from "../test/natsProbe.testkit";
import { expectOneLineError, freeBasePort, PROJECT_ROOT, runCli } from "./cli.testkit";

const TSX = join(PROJECT_ROOT, "node_modules/tsx/dist/cli.mjs");
const stateDir = mkdtempSync(join(tmpdir(), "fluo-newcomer-"));
const scratch = mkdtempSync(join(tmpdir(), "fluo-newcomer-out-"));
const credentials = (user: string): string => join(stateDir, "credentials", `${user}.json`);
let local: ChildProcess | undefined;
let output = "";
let serverPids: number[] = [];
let urls = "";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  const basePort = await freeBasePort();
  local = spawn(process.execPath, [TSX, join(PROJECT_ROOT, "cli/local.ts"), "--state-dir", stateDir, "--base-port", String(basePort)], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  local.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  local.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<never>((_, reject) => local!.once("exit", (code) => reject(new Error(`npm run local exited (${code}):\n${output}`))));
  const ready = new Promise<string>((resolve) => {
    const check = (): void => {
      const line = output.split("\n").find((l) => l.startsWith("Ready:"));
      if (line) resolve(line);
      else setTimeout(check, 100);
    };
    check();
  });
  const line = await Promise.race([ready, exited]);
  serverPids = /\(pids ([\d,]+)\)/.exec(line)![1].split(",").map(Number);
  urls = /^Ready: (\S+)/.exec(line)![1];
}, 120_000);

afterAll(async () => {
  if (local && local.exitCode === null) {
    local.kill("SIGTERM");
    await new Promise((r) => local!.once("exit", r));
  }
  // Also whatever the pid files name: a start that went wrong may have started servers no Ready line named.
  const recorded = runningServers(stateLayout(stateDir)).map((r) => r.pid);
  for (const pid of [...serverPids, ...recorded]) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}, 30_000);

describe("against a running npm run local", () => {
  it("shows catalog apply progress, one line per resource with the elapsed time", () => {
    expect(output).toMatch(/\[1\/\d+\] stream JOBS: create \(\d+\.\d s\)/);
    expect(output).toMatch(/\[(\d+)\/\1\] consumer \S+: create \(\d+\.\d s\)/);
  });

  it("a second start on the same state directory is refused, naming pids, ports and the directory; the cluster runs on", async () => {
    const pidFiles = () => readdirSync(stateDir).filter((e) => e.startsWith("nats-")).map((e) => readFileSync(join(stateDir, e, "nats.pid"), "utf8"));
    const before = pidFiles();
    const second = await runCli("cli/local.ts", ["--state-dir", stateDir, "--base-port", "4222"]);
    const line = expectOneLineError(second, "local");
    expect(line).toContain(`already running: nats-0 pid ${serverPids[0]}, nats-1 pid ${serverPids[1]}, nats-2 pid ${serverPids[2]}`);
    expect(line).toContain(`clients ${urls}`);
    expect(line).toContain(`state dir ${stateDir}`);
    expect(second.stdout).toBe("");
    expect(pidFiles()).toEqual(before);
    expect(serverPids.every(alive)).toBe(true);
  });

  it("drift needs no password: local mode's credentials by default, for its URL, or a context file", async () => {
    for (const args of [[], ["--url", urls], ["--url", urls.split(",")[0].replace("127.0.0.1", "localhost")], ["--context", credentials("fluo-provisioner")]]) {
      const run = await runCli("cli/drift.ts", ["--stack", "dev", "--state-dir", stateDir, ...args]);
      expect(run.code, `${args.join(" ")}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/^No drift: nats:\/\/.* matches stack dev \(4 streams, \d+ consumers\)\.$/m);
      expect(run.stderr.trimEnd()).toMatch(/^drift: connecting to nats:\/\/\S+ as fluo-provisioner \(credentials from .*fluo-provisioner\.json; gives up after 5 s\)$/);
    }
  });

  it("drift --user fluo-bff with a wrong password names fluo-bff's config key", async () => {
    const run = await runCli("cli/drift.ts", ["--stack", "dev", "--url", urls, "--user", "fluo-bff", "--password", "wrong"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("stack config fluo-queue:bffPassword");
    expect(run.stderr).not.toContain("provisionerPassword");
  });

  it("backup takes local mode's credentials, and a context file of the wrong user is refused", async () => {
    const out = join(scratch, "events");
    const run = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", out, "--state-dir", stateDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Backed up stream EVENTS \(\d+ messages/);
    expect(existsSync(join(out, "backup.json"))).toBe(true);
    const wrong = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", join(scratch, "x"), "--context", credentials("fluo-bff")]);
    expect(expectOneLineError(wrong, "backup")).toMatch(/is a context of fluo-bff, this command runs as fluo-backup/);
  });

  it("bench counts only its own jobs: leftovers of an earlier run are drained, the run passes, and smoke passes after it", async () => {
    const bff = await connect({ ...clientOptions(readContextFile(credentials("fluo-bff"))), timeout: 5_000 });
    try {
      const js = bff.jetstream();
      for (let i = 0; i < 50; i++) await publishStored(js, "jobs.trace_analysis", JSON.stringify({ id: `bench-crashed-${i}`, type: "bench" }));
    } finally {
      await bff.close();
    }
    const bench = await runCli("bench/dataPath.ts", ["--state-dir", stateDir, "--rate", "100", "--seconds", "1", "--messages", "200", "--in-flight", "16"], { timeoutMs: 120_000 });
    expect(bench.code, `${bench.stdout}\n${bench.stderr}`).toBe(0);
    expect(bench.stdout).toMatch(/\.\. \[\d+\.\d s\] drained 50 leftover job\(s\)/);
    expect(bench.stdout).toMatch(/\.\. \[\d+\.\d s\] pull consume: 4 workers/);
    expect(bench.stdout).toMatch(/Exactly once: 300 jobs acked by JOBS, 300 distinct consumed, 0 missing, 0 delivered more than once, 0 unexpected/);
    expect(bench.stdout).toContain("PASS: every acked job consumed exactly once");
    // The same through a context file (the other users' files beside it), on a run with nothing left over.
    const again = await runCli("bench/dataPath.ts", ["--context", credentials("fluo-bff"), "--rate", "100", "--seconds", "1", "--messages", "100", "--in-flight", "16"], { timeoutMs: 120_000 });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(again.stdout).toMatch(/drained 0 leftover job\(s\)/);
    expect(again.stdout).toMatch(/Exactly once: 200 jobs acked by JOBS, 200 distinct consumed, 0 missing/);
    const smoke = await runCli("cli/smoke.ts", ["--state-dir", stateDir]);
    expect(smoke.code, smoke.stdout).toBe(0);
    expect(smoke.stdout).toContain("Smoke check passed");
  }, 150_000);
});
