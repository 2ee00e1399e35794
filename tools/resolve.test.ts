// Which binary runs: the override variable, the pinned build, PATH, or a clear line saying how to get one. Each
// case runs on its own environment (a temp cache via FLUO_TOOLS_DIR, a temp PATH), never on the machine's.

import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDirs } from "./scratch.testkit";
import { buildFingerprint, COMPLETE_MARKER, toolDir, toolSpec } from "./manifest";
import { findBinary, natsServer, natsServerTool, natsServerVersion, NATS_CLI, pinnedVersion, PROMTOOL, requireBinary, ToolNotFoundError } from "./resolve";

const freshDir = scratchDirs("fluo-resolve");

/** An executable that answers --version like nats-server does. */
function fakeServer(dir: string, version: string, name = "nats-server"): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "nats-server: v${version}"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A cache with a complete build of `tool` (its marker holds the manifest's fingerprint). */
function fakeCache(tool: string, binary: string, marker = buildFingerprint(toolSpec(tool))): string {
  const cache = freshDir("cache");
  const dir = toolDir(tool, toolSpec(tool), { FLUO_TOOLS_DIR: cache });
  fakeServer(join(dir, "bin"), toolSpec(tool).version.slice(1), binary);
  writeFileSync(join(dir, COMPLETE_MARKER), marker);
  return cache;
}

describe("tools/resolve", () => {
  it("an override variable wins over the pinned build and PATH", () => {
    const explicit = fakeServer(freshDir("explicit"), "9.9.9");
    const env = { NATS_SERVER_BIN: explicit, FLUO_TOOLS_DIR: fakeCache("nats-server", "nats-server"), PATH: freshDir("path") };
    expect(findBinary(natsServer(env), env)).toEqual({ path: explicit, source: "env", tool: "nats-server" });
  });

  it("an override naming nothing runnable is an error naming the variable and the value", () => {
    const env = { NATS_SERVER_BIN: "/nonexistent/nats-server", PATH: "" };
    expect(() => findBinary(natsServer(env), env)).toThrow(
      new ToolNotFoundError("NATS_SERVER_BIN=/nonexistent/nats-server: not an executable file (unset it to use the pinned build or PATH)"),
    );
  });

  it("the pinned build comes before PATH", () => {
    const cache = fakeCache("nats-server", "nats-server");
    const env = { FLUO_TOOLS_DIR: cache, PATH: join(freshDir("path")) };
    fakeServer(env.PATH, "2.9.10");
    const found = findBinary(natsServer(env), env)!;
    expect(found.source).toBe("pinned");
    expect(found.path).toBe(join(cache, "nats-server-v2.15.3", "bin", "nats-server"));
    expect(natsServerVersion(found.path)).toBe("2.15.3");
  });

  it("a cache entry built from another manifest entry (stale marker) is not used", () => {
    const env = { FLUO_TOOLS_DIR: fakeCache("nats-server", "nats-server", "0000000000000000"), PATH: freshDir("path") };
    const distro = fakeServer(env.PATH, "2.9.10");
    expect(findBinary(natsServer(env), env)).toEqual({ path: distro, source: "PATH", tool: "nats-server" });
  });

  it("falls back to PATH (a distribution's package) when nothing is built", () => {
    const env = { FLUO_TOOLS_DIR: freshDir("empty-cache"), PATH: `${freshDir("nothing")}:${freshDir("path")}` };
    const distro = fakeServer(env.PATH.split(":")[1], "2.9.10");
    expect(findBinary(natsServer(env), env)).toEqual({ path: distro, source: "PATH", tool: "nats-server" });
  });

  it("missing everywhere: one line naming where it looked and how to get it", () => {
    const cache = freshDir("empty-cache");
    const env = { FLUO_TOOLS_DIR: cache, PATH: freshDir("path") };
    expect(() => requireBinary(natsServer(env), env)).toThrow(ToolNotFoundError);
    expect(() => requireBinary(natsServer(env), env)).toThrow(
      `nats-server was not found: no pinned build of nats-server v2.15.3 in ${join(cache, "nats-server-v2.15.3")}, none on PATH, ` +
        "NATS_SERVER_BIN not set. Build it with `npm run tools -- nats-server` (needs Go 1.26 and the module proxy), " +
        "install a distribution's nats-server on PATH, or set NATS_SERVER_BIN to its path",
    );
    expect(() => requireBinary(PROMTOOL, env)).toThrow(/^promtool was not found: no pinned build of prometheus v0\.316\.0 .* or set PROMTOOL to its path$/);
  });

  it("FLUO_NATS_SERVER picks the line; anything else is refused naming the value", () => {
    expect(natsServerTool({})).toBe("nats-server");
    expect(natsServerTool({ FLUO_NATS_SERVER: "current" })).toBe("nats-server");
    expect(natsServerTool({ FLUO_NATS_SERVER: "previous" })).toBe("nats-server-previous");
    expect(() => natsServerTool({ FLUO_NATS_SERVER: "2.9" })).toThrow(
      'FLUO_NATS_SERVER=2.9: must be "current" (the image\'s version) or "previous" (the previous minor line)',
    );
    const cache = fakeCache("nats-server-previous", "nats-server");
    const env = { FLUO_NATS_SERVER: "previous", FLUO_TOOLS_DIR: cache, PATH: "" };
    expect(findBinary(natsServer(env), env)?.path).toBe(join(cache, "nats-server-previous-v2.14.10", "bin", "nats-server"));
  });

  it("on this machine the tests resolve the pinned builds of this pass (run `npm run tools` first)", () => {
    const server = requireBinary(natsServer());
    expect(server.source).toBe("pinned");
    expect(natsServerVersion(server.path)).toBe(pinnedVersion(natsServerTool()));
    expect(requireBinary(PROMTOOL).source).toBe("pinned");
    expect(requireBinary(NATS_CLI).source).toBe("pinned");
  });

  it("no module spawns nats-server, promtool or nats by bare name (everything goes through tools/resolve.ts)", () => {
    const root = join(__dirname, "..");
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        if (["node_modules", "out", "dist", ".local", ".git", "scratch"].includes(entry)) continue;
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.(ts|mts|sh)$/.test(entry) && !path.endsWith("resolve.test.ts")) {
          const text = readFileSync(path, "utf8");
          const bare = /\b(spawn|spawnSync|execFile|execFileSync|exec|execSync)\(\s*["'`](nats-server|promtool|prometheus|nats)\b/;
          const shell = entry.endsWith(".sh") && /^\s*(nats-server|promtool|nats)\s/m.test(text);
          if (bare.test(text) || shell) offenders.push(relative(root, path));
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
