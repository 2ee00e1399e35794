// The pinned test tools (tools/versions.json) and where their builds live. The cache sits outside the clone,
// keyed by tool name and version, so a fresh clone on a warm machine reuses every build and nothing built is
// ever committed.

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";

export interface ToolSpec {
  /** The Go module the tool is built from (what `go list -m -versions` takes). */
  readonly module: string;
  readonly version: string;
  /** `go install` targets, built at `version`; ignored when `wrapper` is set. */
  readonly packages: readonly string[];
  /** Files the build must leave in the tool's bin folder. */
  readonly binaries: readonly string[];
  /**
   * A Go module of the project's own (a folder below tools/) that requires `module` and builds `binaries`:
   * for modules whose go.mod has replace directives, which `go install module@version` refuses.
   */
  readonly wrapper?: string;
  /** -ldflags for a wrapper build; `{version}` is replaced by the tool's version. */
  readonly ldflags?: string;
  /** A script (relative to the wrapper folder) run with bash before the wrapper's `go build`s. */
  readonly prepare?: string;
  readonly why: string;
}

export const TOOLS_FOLDER = __dirname;

interface Manifest {
  readonly tools: Readonly<Record<string, ToolSpec>>;
}

export function loadManifest(): Manifest {
  return JSON.parse(readFileSync(join(TOOLS_FOLDER, "versions.json"), "utf8")) as Manifest;
}

export function toolSpec(name: string): ToolSpec {
  const spec = loadManifest().tools[name];
  if (!spec) throw new Error(`tools/versions.json: no tool named "${name}" (known: ${Object.keys(loadManifest().tools).join(", ")})`);
  return spec;
}

/** Root of the build cache: FLUO_TOOLS_DIR, else $XDG_CACHE_HOME/fluo-queue/tools, else ~/.cache/fluo-queue/tools. */
export function toolsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUO_TOOLS_DIR) return env.FLUO_TOOLS_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "fluo-queue", "tools");
}

/** The folder of one tool at its pinned version. */
export function toolDir(name: string, spec: ToolSpec = toolSpec(name), env: NodeJS.ProcessEnv = process.env): string {
  return join(toolsCacheDir(env), `${name}-${spec.version}`);
}

/** Changes when anything that decides the build changes, so an edited entry is rebuilt even at the same version. */
export function buildFingerprint(spec: ToolSpec): string {
  const { why: _why, ...decisive } = spec;
  void _why;
  return createHash("sha256").update(JSON.stringify(decisive)).digest("hex").slice(0, 16);
}

/** Marker written after a complete build; its content is the fingerprint. */
export const COMPLETE_MARKER = ".complete";
