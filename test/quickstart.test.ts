// ./quickstart as a newcomer runs it, up to the point where it would install: its checks of the machine come
// before anything is installed, say what is missing in one line, and never tell root to use sudo.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const QUICKSTART = join(__dirname, "..", "quickstart");
const root = process.getuid?.() === 0;

describe("./quickstart", () => {
  it("without Go says how to get it in one line and exits 1 before installing anything", () => {
    const run = spawnSync(QUICKSTART, [], { env: { ...process.env, FLUO_GO: "/nonexistent/go" }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^quickstart: Go 1\.26 or later is needed .*tar -C \/usr\/local -xzf go1\.26/);
    // Root images often have no sudo at all: the hint must be runnable as it is.
    if (root) expect(lines[0]).not.toContain("sudo");
    else expect(lines[0]).toContain("`sudo tar");
  });

  it("without Go but with NATS_SERVER_BIN, goes on to local mode with that server, passing its arguments", () => {
    const run = spawnSync(QUICKSTART, ["--", "--help"], {
      env: { ...process.env, FLUO_GO: "/nonexistent/go", NATS_SERVER_BIN: "/usr/bin/true" },
      encoding: "utf8",
    });
    expect(run.stderr).toContain("quickstart: no Go: running NATS_SERVER_BIN=/usr/bin/true");
    expect(run.stdout).toMatch(/^usage: npm run local -- /m);
    expect(run.status).toBe(0);
  });

  it("the tests cannot run on a server of one's own: without Go ./quickstart test stops", () => {
    const run = spawnSync(QUICKSTART, ["test"], { env: { ...process.env, FLUO_GO: "/nonexistent/go", NATS_SERVER_BIN: "/usr/bin/true" }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr.trimEnd()).toMatch(/^quickstart: Go 1\.26 or later is needed/);
    expect(run.stderr).not.toContain("NATS_SERVER_BIN");
  });
});
