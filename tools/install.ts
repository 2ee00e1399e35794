// Builds the pinned test tools (tools/versions.json) from their Go modules with the ordinary `go install` /
// `go build`, into the cache of tools/manifest.ts, and reuses what is already built. One line per tool:
//   built  nats-server v2.15.3 (34 s)
//   cached natscli v0.5.0
// Usage: npm run tools [-- [--force] <tool> ...]   (no names: every tool; --force rebuilds complete entries)

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildFingerprint, COMPLETE_MARKER, loadManifest, TOOLS_FOLDER, toolDir, toolsCacheDir, type ToolSpec } from "./manifest";
import { missingMessage, onPath, pinnedBinary, requireBinary, ToolNotFoundError, type ResolvedBinary, type ToolBinary } from "./resolve";

export class ToolInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolInstallError";
  }
}

/** Where the Go tarball (and these machines) put the go command when it is not on PATH. */
export const GO_TARBALL_COMMAND = "/usr/local/go/bin/go";

/**
 * The go command: FLUO_GO if set (and then only it, so a test or a machine can say "this Go, or none"), else
 * `go` on PATH, else the Go tarball's.
 */
export function goCommand(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = env.FLUO_GO ? [env.FLUO_GO] : ["go", GO_TARBALL_COMMAND];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ["version"], { encoding: "utf8", env });
    if (probe.status === 0) return candidate;
  }
  const where = env.FLUO_GO ? `FLUO_GO=${env.FLUO_GO} does not run` : `no \`go\` on PATH, none at ${GO_TARBALL_COMMAND}`;
  throw new ToolInstallError(
    `tools/install: Go was not found (${where}): install Go 1.26 or later with module proxy access to build the ` +
      "pinned tools, or put prebuilt binaries on PATH / set NATS_SERVER_BIN (README: Test tools)",
  );
}

/** True when goCommand would find a go command. */
export function goAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    goCommand(env);
    return true;
  } catch (err) {
    if (err instanceof ToolInstallError) return false;
    throw err;
  }
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

function build(name: string, spec: ToolSpec, dir: string, go: string, baseEnv: NodeJS.ProcessEnv): void {
  const staging = `${dir}.building`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "bin"), { recursive: true });
  const log = join(staging, "build.log");
  const env = { ...baseEnv, GOBIN: join(staging, "bin"), GOFLAGS: baseEnv.GOFLAGS ?? "", CGO_ENABLED: baseEnv.CGO_ENABLED ?? "0" };
  if (spec.wrapper) {
    const cwd = join(TOOLS_FOLDER, spec.wrapper);
    if (spec.prepare) {
      const prep = spawnSync("bash", [join(cwd, spec.prepare), staging], { cwd, env: { ...env, GO: go, TOOL_VERSION: spec.version }, encoding: "utf8", maxBuffer: 256 * 2 ** 20 });
      writeFileSync(log, `$ bash ${spec.prepare}\n${prep.stdout}${prep.stderr}\n`, { flag: "a" });
      if (prep.status !== 0) throw new ToolInstallError(`${name}: ${spec.prepare} failed (exit ${prep.status}; log ${log}):\n${prep.stderr.trim().split("\n").slice(-15).join("\n")}`);
    }
    const ldflags = (spec.ldflags ?? "").replaceAll("{version}", spec.version);
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

export interface InstallOptions {
  /** Progress lines (the "building ..." line before a build). */
  readonly onLine?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Rebuild even when the cache entry is complete (`npm run tools -- --force`). */
  readonly force?: boolean;
}

/** Builds `name` unless its cache entry is complete; safe to call from several processes at once. */
export function installTool(name: string, options: InstallOptions = {}): InstallResult {
  const { onLine = () => undefined, env = process.env, force = false } = options;
  const spec = loadManifest().tools[name];
  if (!spec) throw new ToolInstallError(`tools/install: unknown tool "${name}" (tools/versions.json has: ${Object.keys(loadManifest().tools).join(", ")})`);
  const dir = toolDir(name, spec, env);
  const started = Date.now();
  if (!force && isBuilt(dir, spec)) return { name, version: spec.version, action: "cached", seconds: 0, dir };
  const go = goCommand(env);
  onLine(`building ${name} ${spec.version} from ${spec.module} into ${dir} (first use; a few minutes on 2 cores) ...`);
  return withLock(dir, () => {
    // Another process may have finished the same build while this one waited for the lock.
    if (force || !isBuilt(dir, spec)) build(name, spec, dir, go, env);
    return { name, version: spec.version, action: "built" as const, seconds: Math.round((Date.now() - started) / 1000), dir };
  });
}

/** The line `npm run tools` prints per tool: "built  nats-server v2.15.3 (34 s)  <dir>" or "cached ...". */
export function resultLine(r: InstallResult): string {
  return `${r.action.padEnd(6)} ${r.name} ${r.version}${r.action === "built" ? ` (${r.seconds} s)` : ""}  ${r.dir}`;
}

/**
 * For `npm run local`: the override variable's binary, else the pinned build, built now when Go is here, else
 * PATH's (a distribution's package on a machine without Go). A failed build falls back to PATH with a warning.
 */
export function ensureBinary(wanted: ToolBinary, onLine: (line: string) => void, env: NodeJS.ProcessEnv = process.env): ResolvedBinary {
  if (env[wanted.envVar]) return requireBinary(wanted, env);
  const pinned = pinnedBinary(wanted.tool, wanted.binary, env);
  if (pinned) return { path: pinned, source: "pinned", tool: wanted.tool };
  let buildProblem: string | undefined;
  if (goAvailable(env)) {
    try {
      const r = installTool(wanted.tool, { onLine, env });
      onLine(resultLine(r));
      return { path: join(r.dir, "bin", wanted.binary), source: "pinned", tool: wanted.tool };
    } catch (err) {
      if (!(err instanceof ToolInstallError)) throw err;
      buildProblem = err.message;
      onLine(`warning: building ${wanted.tool} failed, looking for ${wanted.binary} on PATH: ${err.message.split("\n")[0]}`);
    }
  }
  const path = onPath(wanted.binary, env);
  if (path) return { path, source: "PATH", tool: wanted.tool };
  throw new ToolNotFoundError(buildProblem ?? missingMessage(wanted, env));
}

const USAGE = "usage: npm run tools [-- [--force] <tool> ...]";

function main(argv: readonly string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\nBuilds the pinned tools of tools/versions.json into ${toolsCacheDir()}; --force rebuilds complete entries.\n`);
    return 0;
  }
  const force = argv.includes("--force");
  const unknownFlag = argv.find((a) => a.startsWith("-") && a !== "--force");
  if (unknownFlag) {
    process.stderr.write(`tools/install: unknown flag ${unknownFlag}\n${USAGE}\n`);
    return 1;
  }
  const named = argv.filter((a) => !a.startsWith("-"));
  const names = named.length > 0 ? named : Object.keys(loadManifest().tools);
  for (const name of names) {
    try {
      process.stdout.write(`${resultLine(installTool(name, { onLine: (line) => process.stderr.write(`${line}\n`), force }))}\n`);
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
