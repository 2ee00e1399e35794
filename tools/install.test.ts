// The tool installer as `npm run tools` and `npm run local` use it, on a temp cache (FLUO_TOOLS_DIR) with the go
// command chosen by FLUO_GO: a fake `go` that "builds" a script in place of the real (minutes-long) build, a
// failing one, and none at all (PATH without go, FLUO_GO naming nothing, so /usr/local/go is out of reach too).

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDirs } from "./scratch.testkit";
import { ensureBinary } from "./install";
import { loadManifest } from "./manifest";
import { findBinary, natsServer, natsServerVersion, ToolNotFoundError } from "./resolve";

const ROOT = join(__dirname, "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const freshDir = scratchDirs("fluo-install");

/** A go command that answers `version` and turns `install <pkg>@<v>` into a nats-server script in GOBIN. */
function fakeGo(behaviour: "builds" | "fails"): { go: string; calls: string } {
  const dir = freshDir("go");
  const calls = join(dir, "calls.log");
  const go = join(dir, "go");
  const install =
    behaviour === "builds"
      ? 'v="${last##*@}"; printf "#!/bin/sh\\necho \\"nats-server: %s\\"\\n" "$v" > "$GOBIN/nats-server"; /bin/chmod +x "$GOBIN/nats-server"'
      : 'echo "go: github.com/nats-io/nats-server/v2@${last##*@}: module lookup disabled by GOPROXY=off" >&2; exit 1';
  writeFileSync(
    go,
    `#!/bin/sh\necho "$*" >> "${calls}"\ncase "$1" in\n  version) echo "go version go1.26.0 linux/amd64" ;;\n` +
      `  install) for a in "$@"; do last="$a"; done; ${install} ;;\n  *) exit 2 ;;\nesac\n`,
  );
  chmodSync(go, 0o755);
  return { go, calls };
}

/** `npm run tools -- <args>` on its own cache, PATH without go or any tool. */
function tools(args: readonly string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(TSX, ["tools/install.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: `${join(ROOT, "node_modules", ".bin")}:${join(process.execPath, "..")}:/bin:/usr/bin`, HOME: process.env.HOME ?? "", ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("npm run tools", () => {
  it("builds a missing tool once with a progress line, then reports it cached", () => {
    const cache = freshDir("cache");
    const { go, calls } = fakeGo("builds");
    const dir = join(cache, "nats-server-v2.15.3");

    const first = tools(["nats-server"], { FLUO_TOOLS_DIR: cache, FLUO_GO: go });
    expect(first.stderr).toBe(
      `building nats-server v2.15.3 from github.com/nats-io/nats-server/v2 into ${dir} (first use; a few minutes on 2 cores) ...\n`,
    );
    expect(first.stdout).toMatch(new RegExp(`^built  nats-server v2\\.15\\.3 \\(\\d+ s\\)  ${dir}\\n$`));
    expect(first.status).toBe(0);
    expect(readFileSync(calls, "utf8")).toContain("install -trimpath github.com/nats-io/nats-server/v2@v2.15.3");
    expect(natsServerVersion(join(dir, "bin", "nats-server"))).toBe("2.15.3");

    const second = tools(["nats-server"], { FLUO_TOOLS_DIR: cache, FLUO_GO: go });
    expect(second.stdout).toBe(`cached nats-server v2.15.3  ${dir}\n`);
    expect(second.stderr).toBe("");
    expect(readFileSync(calls, "utf8").match(/^install /gm)).toHaveLength(1);

    const forced = tools(["--force", "nats-server"], { FLUO_TOOLS_DIR: cache, FLUO_GO: go });
    expect(forced.stdout).toMatch(/^built  nats-server v2\.15\.3/);
    expect(readFileSync(calls, "utf8").match(/^install /gm)).toHaveLength(2);
  });

  it("without Go: exit 1 with one line saying what to install, and nothing in the cache", () => {
    const cache = freshDir("cache");
    const result = tools(["nats-server"], { FLUO_TOOLS_DIR: cache, FLUO_GO: "/nonexistent/go" });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "tools/install: Go was not found (FLUO_GO=/nonexistent/go does not run): install Go 1.26 or later with module " +
        "proxy access to build the pinned tools, or put prebuilt binaries on PATH / set NATS_SERVER_BIN (README: Test tools)\n",
    );
    expect(existsSync(join(cache, "nats-server-v2.15.3"))).toBe(false);
  });

  it("a failed build exits 1 with the go command, its exit code, the log's tail and path, and leaves no usable entry", () => {
    const cache = freshDir("cache");
    const { go } = fakeGo("fails");
    const result = tools(["nats-server"], { FLUO_TOOLS_DIR: cache, FLUO_GO: go });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`\`${go} install -trimpath github.com/nats-io/nats-server/v2@v2.15.3\` failed (exit 1; full log ${cache}/nats-server-v2.15.3.building/build.log)`);
    expect(result.stderr).toContain("module lookup disabled by GOPROXY=off");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(findBinary(natsServer({}), { FLUO_TOOLS_DIR: cache, PATH: "" })).toBeUndefined();
  });

  it("an unknown tool or flag is refused naming it", () => {
    const cache = freshDir("cache");
    const unknown = tools(["nats-sever"], { FLUO_TOOLS_DIR: cache, FLUO_GO: "/nonexistent/go" });
    expect(unknown.status).toBe(1);
    const known = Object.keys(loadManifest().tools).join(", ");
    expect(unknown.stderr).toBe(`tools/install: unknown tool "nats-sever" (tools/versions.json has: ${known})\n`);
    const flag = tools(["--fast"], { FLUO_TOOLS_DIR: cache });
    expect(flag.status).toBe(1);
    expect(flag.stderr).toMatch(/^tools\/install: unknown flag --fast\n/);
  });
});

describe("npm run local's nats-server (ensureBinary)", () => {
  const lines: string[] = [];
  const onLine = (line: string): void => void lines.push(line);

  it("with Go, builds the pinned version on first use and says so", () => {
    lines.length = 0;
    const cache = freshDir("cache");
    const env = { FLUO_TOOLS_DIR: cache, FLUO_GO: fakeGo("builds").go, PATH: freshDir("path") };
    const server = ensureBinary(natsServer(env), onLine, env);
    expect(server).toEqual({ path: join(cache, "nats-server-v2.15.3", "bin", "nats-server"), source: "pinned", tool: "nats-server" });
    expect(lines[0]).toMatch(/^building nats-server v2\.15\.3 from github\.com\/nats-io\/nats-server\/v2 into /);
    expect(lines[1]).toMatch(/^built  nats-server v2\.15\.3 \(\d+ s\)/);
  });

  it("without Go, uses a distribution's nats-server on PATH", () => {
    lines.length = 0;
    const path = freshDir("path");
    writeFileSync(join(path, "nats-server"), '#!/bin/sh\necho "nats-server: v2.9.10"\n', { mode: 0o755 });
    const env = { FLUO_TOOLS_DIR: freshDir("cache"), FLUO_GO: "/nonexistent/go", PATH: path };
    expect(ensureBinary(natsServer(env), onLine, env)).toEqual({ path: join(path, "nats-server"), source: "PATH", tool: "nats-server" });
    expect(lines).toEqual([]);
  });

  it("a failed build falls back to PATH with a warning; with nothing on PATH the build's error is the message", () => {
    lines.length = 0;
    const path = freshDir("path");
    writeFileSync(join(path, "nats-server"), '#!/bin/sh\necho "nats-server: v2.9.10"\n', { mode: 0o755 });
    const failing = fakeGo("fails").go;
    const env = { FLUO_TOOLS_DIR: freshDir("cache"), FLUO_GO: failing, PATH: path };
    expect(ensureBinary(natsServer(env), onLine, env).source).toBe("PATH");
    expect(lines[1]).toMatch(/^warning: building nats-server failed, looking for nats-server on PATH: `.*go install -trimpath/);

    const bare = { FLUO_TOOLS_DIR: freshDir("cache"), FLUO_GO: failing, PATH: freshDir("path") };
    expect(() => ensureBinary(natsServer(bare), onLine, bare)).toThrow(/failed \(exit 1; full log /);
    const noGo = { FLUO_TOOLS_DIR: freshDir("cache"), FLUO_GO: "/nonexistent/go", PATH: freshDir("path") };
    expect(() => ensureBinary(natsServer(noGo), onLine, noGo)).toThrow(ToolNotFoundError);
    expect(() => ensureBinary(natsServer(noGo), onLine, noGo)).toThrow(/^nats-server was not found: .*npm run tools -- nats-server/);
  });
});
