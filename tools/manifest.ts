// The pinned test tools (tools/versions.json) and where their builds live. The cache sits outside the clone,
// keyed by tool name and version, so a fresh clone on a warm machine reuses every build and nothing built is
// ever committed.

import { existsSync, readFileSync } from "node:fs";
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
  /**
   * -ldflags for a wrapper build; `{version}` is replaced by the tool's version, `{versionNumber}` by it without the
   * "v", `{versionMajor}` and `{versionMinor}` by its first two numbers (Kubernetes reports gitMajor/gitMinor apart).
   */
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

// What a wrapper build is made of: its go.mod pins the real versions, main.go and the prepare script decide what
// is built. Files the prepare script generates are not listed, so a build does not change its own fingerprint.
const WRAPPER_INPUTS = ["go.mod", "go.sum", "main.go"] as const;

/** The files of a wrapper folder that decide its build, by name, with their contents ("" when absent). */
function wrapperInputs(spec: ToolSpec): Record<string, string> {
  if (!spec.wrapper) return {};
  const dir = join(TOOLS_FOLDER, spec.wrapper);
  const names = [...WRAPPER_INPUTS, ...(spec.prepare ? [spec.prepare] : [])];
  return Object.fromEntries(names.map((n) => [n, existsSync(join(dir, n)) ? readFileSync(join(dir, n), "utf8") : ""]));
}

/**
 * Changes when anything that decides the build changes (the entry, and a wrapper's go.mod, go.sum, main.go and
 * prepare script), so an edited entry or wrapper is rebuilt even at the same version.
 */
export function buildFingerprint(spec: ToolSpec): string {
  const { why: _why, ...decisive } = spec;
  void _why;
  const inputs = wrapperInputs(spec);
  const material = Object.keys(inputs).length > 0 ? { ...decisive, wrapperInputs: inputs } : decisive;
  return createHash("sha256").update(JSON.stringify(material)).digest("hex").slice(0, 16);
}

/** A wrapper build's -ldflags with the tool's version filled in. */
export function expandLdflags(spec: ToolSpec): string {
  const number = spec.version.replace(/^v/, "");
  const [major = "", minor = ""] = number.split(".");
  return (spec.ldflags ?? "")
    .replaceAll("{versionNumber}", number)
    .replaceAll("{versionMajor}", major)
    .replaceAll("{versionMinor}", minor)
    .replaceAll("{version}", spec.version);
}

/** Marker written after a complete build; its content is the fingerprint. */
export const COMPLETE_MARKER = ".complete";
