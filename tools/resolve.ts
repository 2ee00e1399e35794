// Which binary of a tool runs, answered in one place so a test and local mode never run different servers.
// An explicit *_BIN variable wins; then the pinned build (tools/versions.json) when it is complete in the cache;
// then the same name on PATH (a distribution's package). Nothing else may spawn nats-server, promtool or nats
// by bare name: a stray binary on PATH (Debian's nats-server 2.9) would silently decide what the tests prove.

import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { delimiter, join } from "node:path";
import { buildFingerprint, COMPLETE_MARKER, toolDir, toolSpec } from "./manifest";

export type BinarySource = "env" | "pinned" | "PATH";

/** One binary of a tool of tools/versions.json and the variable that overrides where it comes from. */
export interface ToolBinary {
  readonly tool: string;
  readonly binary: string;
  readonly envVar: string;
}

export interface ResolvedBinary {
  readonly path: string;
  readonly source: BinarySource;
  /** The tool entry it was resolved for (its pinned version applies only when source is "pinned"). */
  readonly tool: string;
}

/** A binary that none of the three places has, or an override that points at nothing runnable. */
export class ToolNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolNotFoundError";
  }
}

/**
 * The nats-server tool entry in force: FLUO_NATS_SERVER=previous selects the previous minor line (the second
 * pass of the live tests), "current" or unset the image's version.
 */
export function natsServerTool(env: NodeJS.ProcessEnv = process.env): "nats-server" | "nats-server-previous" {
  const choice = env.FLUO_NATS_SERVER || "current";
  if (choice === "previous") return "nats-server-previous";
  if (choice === "current") return "nats-server";
  throw new ToolNotFoundError(`FLUO_NATS_SERVER=${choice}: must be "current" (the image's version) or "previous" (the previous minor line)`);
}

export const natsServer = (env: NodeJS.ProcessEnv = process.env): ToolBinary => ({ tool: natsServerTool(env), binary: "nats-server", envVar: "NATS_SERVER_BIN" });
export const PROMTOOL: ToolBinary = { tool: "prometheus", binary: "promtool", envVar: "PROMTOOL" };
/** natscli: the `nats` command the README tells operators to type. */
export const NATS_CLI: ToolBinary = { tool: "natscli", binary: "nats", envVar: "NATS_CLI_BIN" };

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The pinned build's path if it is built and complete (its marker matches the manifest entry), else undefined. */
export function pinnedBinary(tool: string, binary: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const spec = toolSpec(tool);
  const dir = toolDir(tool, spec, env);
  const marker = join(dir, COMPLETE_MARKER);
  if (!existsSync(marker) || readFileSync(marker, "utf8").trim() !== buildFingerprint(spec)) return undefined;
  const path = join(dir, "bin", binary);
  return isExecutableFile(path) ? path : undefined;
}

/** The first executable `binary` in the directories of env.PATH, as a shell would find it. */
export function onPath(binary: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, binary);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The override variable's binary, the pinned build or PATH's, in that order; undefined if none has it. */
export function findBinary(wanted: ToolBinary, env: NodeJS.ProcessEnv = process.env): ResolvedBinary | undefined {
  const explicit = env[wanted.envVar];
  if (explicit) {
    if (!isExecutableFile(explicit)) throw new ToolNotFoundError(`${wanted.envVar}=${explicit}: not an executable file (unset it to use the pinned build or PATH)`);
    return { path: explicit, source: "env", tool: wanted.tool };
  }
  const pinned = pinnedBinary(wanted.tool, wanted.binary, env);
  if (pinned) return { path: pinned, source: "pinned", tool: wanted.tool };
  const path = onPath(wanted.binary, env);
  return path ? { path, source: "PATH", tool: wanted.tool } : undefined;
}

/** One line saying where the binary was looked for and how to get it. */
export function missingMessage(wanted: ToolBinary, env: NodeJS.ProcessEnv = process.env): string {
  const spec = toolSpec(wanted.tool);
  return (
    `${wanted.binary} was not found: no pinned build of ${wanted.tool} ${spec.version} in ${toolDir(wanted.tool, spec, env)}, ` +
    `none on PATH, ${wanted.envVar} not set. Build it with \`npm run tools -- ${wanted.tool}\` (needs Go 1.26 and the module proxy), ` +
    `install a distribution's ${wanted.binary} on PATH, or set ${wanted.envVar} to its path`
  );
}

/** Like findBinary, but a missing binary is a ToolNotFoundError naming where it looked and how to get it. */
export function requireBinary(wanted: ToolBinary, env: NodeJS.ProcessEnv = process.env): ResolvedBinary {
  const found = findBinary(wanted, env);
  if (!found) throw new ToolNotFoundError(missingMessage(wanted, env));
  return found;
}

/** The version a nats-server binary reports (`nats-server --version` prints `nats-server: v2.15.3`), without the v. */
export function natsServerVersion(path: string): string {
  const out = spawnSync(path, ["--version"], { encoding: "utf8" });
  const match = /v?(\d+\.\d+\.\d+\S*)/.exec(`${out.stdout}${out.stderr}`);
  if (out.status !== 0 || !match) throw new ToolNotFoundError(`${path} --version did not print a version (exit ${out.status}): ${`${out.stderr ?? ""}`.trim()}`);
  return match[1];
}

/** The pinned version of a tool entry without its leading "v" (tools/versions.json says "v2.15.3"). */
export function pinnedVersion(tool: string): string {
  return toolSpec(tool).version.replace(/^v/, "");
}

/** Compatibility form of findBinary for callers that name the tool, binary and variable directly. */
export function resolveBinary(tool: string, binary: string, envVar: string, env: NodeJS.ProcessEnv = process.env): ResolvedBinary | undefined {
  return findBinary({ tool, binary, envVar }, env);
}
