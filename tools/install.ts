// Builds the pinned test tools (tools/versions.json) from their Go modules with the ordinary `go install` /
// `go build`, into the cache of tools/manifest.ts, and reuses what is already built. One line per tool:
//   built  nats-server v2.15.3 (34 s)
//   cached natscli v0.5.0
// Usage: npm run tools [-- <tool> ...]   (no names: every tool)

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildFingerprint, COMPLETE_MARKER, expandLdflags, loadManifest, TOOLS_FOLDER, toolDir, type ToolSpec } from "./manifest";

export class ToolInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolInstallError";
  }
}

/** The go command: on PATH, or where the Go tarball and these machines put it. */
export function goCommand(): string {
  for (const candidate of ["go", "/usr/local/go/bin/go"]) {
    const probe = spawnSync(candidate, ["version"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  throw new ToolInstallError(
    "tools/install: Go was not found (no `go` on PATH, none at /usr/local/go/bin/go): install Go 1.26 or later " +
      "with module proxy access to build the pinned test tools, or put prebuilt binaries on PATH / set NATS_SERVER_BIN",
  );
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A lock folder per tool, so two test runs or helpers building the same tool at once do not race. */
function withLock<T>(dir: string, fn: () => T): T {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch {
      const holder = Number(readFileSync(join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || "0");
      if (holder > 0 && !pidAlive(holder)) rmSync(lock, { recursive: true, force: true });
      else sleep(500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function isBuilt(dir: string, spec: ToolSpec): boolean {
  const marker = join(dir, COMPLETE_MARKER);
  return (
    existsSync(marker) &&
    readFileSync(marker, "utf8").trim() === buildFingerprint(spec) &&
    spec.binaries.every((b) => existsSync(join(dir, "bin", b)))
  );
}

function run(go: string, args: readonly string[], options: { cwd?: string; env: NodeJS.ProcessEnv; log: string }): void {
  const result = spawnSync(go, args, { cwd: options.cwd, env: options.env, encoding: "utf8", maxBuffer: 256 * 2 ** 20 });
  writeFileSync(options.log, `$ ${go} ${args.join(" ")}\n${result.stdout}${result.stderr}\n`, { flag: "a" });
  if (result.status !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new ToolInstallError(`\`${go} ${args.join(" ")}\` failed (exit ${result.status}; full log ${options.log}):\n${tail}`);
  }
}

function build(name: string, spec: ToolSpec, dir: string, go: string): void {
  const staging = `${dir}.building`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "bin"), { recursive: true });
  const log = join(staging, "build.log");
  const env = { ...process.env, GOBIN: join(staging, "bin"), GOFLAGS: process.env.GOFLAGS ?? "", CGO_ENABLED: process.env.CGO_ENABLED ?? "0" };
  if (spec.wrapper) {
    const cwd = join(TOOLS_FOLDER, spec.wrapper);
    if (spec.prepare) {
      const prep = spawnSync("bash", [join(cwd, spec.prepare), staging], { cwd, env: { ...env, GO: go, TOOL_VERSION: spec.version }, encoding: "utf8", maxBuffer: 256 * 2 ** 20 });
      writeFileSync(log, `$ bash ${spec.prepare}\n${prep.stdout}${prep.stderr}\n`, { flag: "a" });
      if (prep.status !== 0) throw new ToolInstallError(`${name}: ${spec.prepare} failed (exit ${prep.status}; log ${log}):\n${prep.stderr.trim().split("\n").slice(-15).join("\n")}`);
    }
    const ldflags = expandLdflags(spec);
    spec.packages.forEach((pkg, i) => {
      const out = join(staging, "bin", spec.binaries[i]);
      run(go, ["build", "-trimpath", ...(ldflags ? ["-ldflags", ldflags] : []), "-o", out, pkg], { cwd, env: { ...env, GOFLAGS: "-mod=mod" }, log });
    });
  } else {
    for (const pkg of spec.packages) run(go, ["install", "-trimpath", `${pkg}@${spec.version}`], { env, log });
  }
  for (const binary of spec.binaries) {
    if (!existsSync(join(staging, "bin", binary))) throw new ToolInstallError(`${name}: the build left no ${binary} in ${join(staging, "bin")}`);
  }
  writeFileSync(join(staging, COMPLETE_MARKER), buildFingerprint(spec));
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
}

export interface InstallResult {
  readonly name: string;
  readonly version: string;
  readonly action: "built" | "cached";
  readonly seconds: number;
  readonly dir: string;
}

/** Builds `name` unless its cache entry is complete; safe to call from several processes at once. */
export function installTool(name: string, onLine: (line: string) => void = () => {}): InstallResult {
  const spec = loadManifest().tools[name];
  if (!spec) throw new ToolInstallError(`tools/install: unknown tool "${name}" (tools/versions.json has: ${Object.keys(loadManifest().tools).join(", ")})`);
  const dir = toolDir(name, spec);
  const started = Date.now();
  if (isBuilt(dir, spec)) return { name, version: spec.version, action: "cached", seconds: 0, dir };
  const go = goCommand();
  onLine(`building ${name} ${spec.version} from ${spec.module} (first use; a few minutes on 2 cores) ...`);
  return withLock(dir, () => {
    if (!isBuilt(dir, spec)) build(name, spec, dir, go);
    return { name, version: spec.version, action: "built" as const, seconds: Math.round((Date.now() - started) / 1000), dir };
  });
}

function main(argv: readonly string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: npm run tools [-- <tool> ...]\nBuilds the pinned tools of tools/versions.json into ${dirname(toolDir("x", { version: "" } as ToolSpec))}.\n`);
    return 0;
  }
  const names = argv.length > 0 ? argv : Object.keys(loadManifest().tools);
  for (const name of names) {
    try {
      const r = installTool(name, (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(`${r.action.padEnd(6)} ${r.name} ${r.version}${r.action === "built" ? ` (${r.seconds} s)` : ""}  ${r.dir}\n`);
    } catch (err) {
      if (err instanceof ToolInstallError) {
        process.stderr.write(`${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
