// Which binary of a tool runs, answered in one place so a test and local mode never run different servers.
// The pinned build (tools/versions.json) when it is in the cache, else the same name on PATH; an explicit
// *_BIN variable wins over both.

import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildFingerprint, COMPLETE_MARKER, toolDir, toolSpec } from "./manifest";

export type BinarySource = "env" | "pinned" | "PATH";

export interface ResolvedBinary {
  readonly path: string;
  readonly source: BinarySource;
  /** The tool entry it was resolved for (its pinned version applies only when source is "pinned"). */
  readonly tool: string;
}

/** The pinned build's path if it is built and complete, else undefined. */
export function pinnedBinary(tool: string, binary: string): string | undefined {
  const spec = toolSpec(tool);
  const dir = toolDir(tool, spec);
  const marker = join(dir, COMPLETE_MARKER);
  if (!existsSync(marker) || readFileSync(marker, "utf8").trim() !== buildFingerprint(spec)) return undefined;
  const path = join(dir, "bin", binary);
  return existsSync(path) ? path : undefined;
}

export function onPath(binary: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : undefined;
}

/** Resolves `binary` of `tool`: `${envVar}` if set, then the pinned build, then PATH; undefined if none. */
export function resolveBinary(tool: string, binary: string, envVar: string): ResolvedBinary | undefined {
  const explicit = process.env[envVar];
  if (explicit) return { path: explicit, source: "env", tool };
  const pinned = pinnedBinary(tool, binary);
  if (pinned) return { path: pinned, source: "pinned", tool };
  const path = onPath(binary);
  return path ? { path, source: "PATH", tool } : undefined;
}

/**
 * The nats-server tool entry in force: FLUO_NATS_SERVER=previous selects the previous minor line (the second
 * pass of the live tests), anything else the image's version.
 */
export function natsServerTool(env: NodeJS.ProcessEnv = process.env): "nats-server" | "nats-server-previous" {
  const choice = env.FLUO_NATS_SERVER ?? "current";
  if (choice === "previous") return "nats-server-previous";
  if (choice === "current") return "nats-server";
  throw new Error(`FLUO_NATS_SERVER=${choice}: must be "current" (the image's version) or "previous" (the previous minor line)`);
}

/** The version a nats-server binary reports (`nats-server --version` prints `nats-server: v2.15.3`). */
export function natsServerVersion(path: string): string {
  const out = spawnSync(path, ["--version"], { encoding: "utf8" });
  const match = /v?(\d+\.\d+\.\d+\S*)/.exec(`${out.stdout}${out.stderr}`);
  if (out.status !== 0 || !match) throw new Error(`${path} --version did not print a version (exit ${out.status}): ${out.stderr.trim()}`);
  return match[1];
}
