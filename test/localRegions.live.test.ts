// `npm run local:regions` as an operator practises with it (docs/regions.md "Practise on a laptop"): the child
// process, its Ready line, then the failover typed at its prompt: events published in the primary reach the
// standby's mirror, the primary is killed, the standby promoted keeps them and takes new ones; quit stops every
// server it started.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canListen } from "../local/localCluster";
import { regionPorts } from "../local/regionPair";

const ROOT = join(__dirname, "..");
const stateDir = mkdtempSync(join(tmpdir(), "fluo-local-regions-"));
let child: ChildProcess | undefined;

/** A base port whose ranges (both regions: client, route, monitor, leaf) are all free now. */
async function freeRegionBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 3000);
    const ports = [...regionPorts(base, 3), ...regionPorts(base + 100, 3)].flatMap((p) => [p.client, p.cluster, p.monitor, p.leaf!]);
    let free = true;
    for (const p of ports) free &&= await canListen(p);
    if (free) return base;
  }
  throw new Error("no free port ranges for two regions in 20000-29110");
}

/** Server pids still alive among those whose command line names the state directory. */
function serversOf(dir: string): Promise<string> {
  return new Promise((resolve) => {
    const ps = spawn("pgrep", ["-f", `nats-server.*${dir}`], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    ps.stdout.on("data", (d: Buffer) => (out += d.toString()));
    ps.once("exit", () => resolve(out.trim()));
  });
}

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGINT");
    await new Promise((r) => child!.once("exit", r));
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe("npm run local:regions", () => {
  it("runs the failover an operator types: replicate, kill the primary, promote, publish in the new primary, quit", async () => {
    const base = await freeRegionBase();
    child = spawn("npm", ["run", "--silent", "local:regions", "--", "--state-dir", stateDir, "--base-port", String(base)], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    let seen = 0;
    /** Resolves with the next output line matching `pattern` after the last one read (or fails on exit). */
    const next = (pattern: RegExp): Promise<string> =>
      Promise.race([
        new Promise<string>((resolve) => {
          const check = (): void => {
            const lines = out.split("\n");
            const i = lines.findIndex((l, n) => n >= seen && pattern.test(l));
            if (i >= 0) {
              seen = i + 1;
              resolve(lines[i]);
            } else if (child!.exitCode === null) setTimeout(check, 50);
          };
          check();
        }),
        exited.then((code) => {
          throw new Error(`local:regions exited (${code}) before printing ${pattern}:\n${out}`);
        }),
      ]);
    const type = (line: string): void => void child!.stdin!.write(`${line}\n`);

    await next(/^Ready: two regions running/);
    expect(out).toMatch(new RegExp(`eu: nats://127\\.0\\.0\\.1:${base},`));
    type("publish eu 150");
    expect(await next(/^> published/)).toBe("> published 150 events in eu: EVENTS last seq 150");
    // The mirror follows within a few milliseconds; status is asked until it shows (by progress, not by time).
    for (let i = 0; ; i++) {
      type("status");
      await next(/^> eu /);
      const us = await next(/^> us /);
      if (us.includes("EVENTS 150 (mirror, lag 0)") || i >= 100) {
        expect(us).toBe("> us (standby): 3 leafnode connection(s); JOBS 0, SIGNALS 0, EVENTS 150 (mirror, lag 0), DEADLETTER 0 (mirror, lag 0)");
        break;
      }
    }
    type("kill eu");
    await next(/^> killed every server of eu/);
    type("promote eu");
    expect(await next(/^> /)).toMatch(/region eu is already the primary/);
    type("promote us");
    expect(await next(/^> promoted us/)).toMatch(/^> promoted us: EVENTS update \(.*mirror.*\); DEADLETTER update \(.*mirror.*\)$/);
    type("publish us 5");
    expect(await next(/^> published/)).toBe("> published 5 events in us: EVENTS last seq 155");
    type("status");
    expect(await next(/^> eu /)).toBe("> eu (primary): down");
    expect(await next(/^> us /)).toBe("> us (primary): 0 leafnode connection(s); JOBS 0, SIGNALS 0, EVENTS 155, DEADLETTER 0");
    type("publish mars 1");
    expect(await next(/^> /)).toBe('> no region "mars": the regions are eu and us');
    type("quit");
    expect(await exited).toBe(0);
    expect(out).toContain("local:regions: stopped both regions");
    expect(await serversOf(stateDir)).toBe("");
  }, 240_000);
});
