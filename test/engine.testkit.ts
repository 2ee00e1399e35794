// Test kit: this project run through the real Pulumi engine (the pinned CLI, the Kubernetes plugin in GitOps
// mode, the SDK's dynamic provider host) against a local 3-node NATS cluster, offline: a file backend and a
// passphrase in a temporary folder, plugins from PATH, no plugin downloads, no update check.
//
// The project is copied (tracked and new files, node_modules linked) so a test can set stack config, edit the
// catalog or the provider code like a pull request would, and never touch the checkout.

import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { installTool } from "../tools/install";
import { pinnedBinary } from "../tools/resolve";

export const ROOT = join(__dirname, "..");

/** What one command printed and how it ended. */
export interface CommandOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for assertions on messages wherever the CLI printed them. */
  readonly text: string;
}

/** The pinned CLI (and Kubernetes plugin), built on first use (minutes; cached afterwards by tools/install.ts). */
export function engineTools(kubernetes = true): string {
  for (const tool of kubernetes ? ["pulumi", "pulumi-kubernetes"] : ["pulumi"]) installTool(tool, { onLine: (line) => process.stderr.write(`${line}\n`) });
  return pinnedBinary("pulumi", "pulumi")!;
}

/** Tracked and new (not ignored) files of the checkout, as they are on disk. */
function projectFiles(): string[] {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  if (listed.status !== 0) throw new Error(`git ls-files failed in ${ROOT}: ${listed.stderr}`);
  return listed.stdout.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)));
}

export class EngineProject {
  private constructor(
    /** The project copy: Pulumi's work dir and the provider host's working directory. */
    readonly dir: string,
    private readonly base: string,
    readonly env: NodeJS.ProcessEnv,
    readonly pulumi: string,
  ) {}

  /** A copy of the project with an empty file backend; `manifests` is where GitOps mode writes. */
  static create(options: { readonly kubernetes?: boolean } = {}): EngineProject {
    const pulumi = engineTools(options.kubernetes ?? true);
    const base = mkdtempSync(join(tmpdir(), "fluo-engine-"));
    const dir = join(base, "project");
    for (const file of projectFiles()) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      cpSync(join(ROOT, file), join(dir, file));
    }
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    mkdirSync(join(base, "state"));
    mkdirSync(join(base, "home"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${join(base, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "engine-test-passphrase",
      PULUMI_HOME: join(base, "home"),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      PULUMI_BIN: pulumi,
      NO_COLOR: "1",
    };
    // vitest's own variables would make the program's child processes behave like tests. No KUBECONFIG: GitOps
    // mode reaches no cluster, and the Kubernetes provider refuses the mode with a kubeconfig.
    for (const key of Object.keys(env)) if (key.startsWith("VITEST") || key === "NODE_OPTIONS" || key === "KUBECONFIG") delete env[key];
    return new EngineProject(dir, base, env, pulumi);
  }

  /** Where the test puts the manifests GitOps mode writes. */
  get manifests(): string {
    return join(this.base, "manifests");
  }

  /** The file backend's state file of a stack. */
  statePath(stack: string): string {
    return join(this.base, "state", ".pulumi", "stacks", "fluo-queue", `${stack}.json`);
  }

  /** The file backend's state of a stack, as Pulumi wrote it. */
  stateFile(stack: string): string {
    return readFileSync(this.statePath(stack), "utf8");
  }

  /** Writes a file of the copy (e.g. a program in place of index.ts). */
  write(file: string, content: string): void {
    writeFileSync(join(this.dir, file), content);
  }

  /** The raw Pulumi CLI, for setup (stack init, config) and reading state. */
  cli(args: readonly string[]): CommandOutput {
    const r = spawnSync(this.pulumi, [...args, "--non-interactive"], { cwd: this.dir, env: this.env, encoding: "utf8", maxBuffer: 256 * 2 ** 20 });
    const out = { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, text: `${r.stdout}${r.stderr}` };
    return out;
  }

  /** Like cli(), but a non-zero exit is an error naming the command. */
  cliOk(args: readonly string[]): string {
    const r = this.cli(args);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.text}`);
    return r.stdout;
  }

  /**
   * `npm run <script> -- <args>` in the copy: the commands of the workflows and the README. With `signal`, the
   * command runs in a process group of its own that an abort kills whole (npm, the program, the pulumi CLI and its
   * plugins): a test that gives up on a command (an `up` waiting for pods that never become ready) leaves none behind.
   */
  async npm(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, options: { readonly signal?: AbortSignal } = {}): Promise<CommandOutput> {
    const { signal } = options;
    const child = spawn("npm", ["run", "--silent", script, "--", ...args], {
      cwd: this.dir,
      env: { ...this.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: signal !== undefined,
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    if (signal?.aborted) killGroup();
    signal?.addEventListener("abort", killGroup, { once: true });
    let stdout = "";
    let stderr = "";
    let text = "";
    child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), (text += d.toString())));
    child.stderr.on("data", (d: Buffer) => ((stderr += d.toString()), (text += d.toString())));
    const code = await new Promise<number>((resolve) => child.once("close", (c) => resolve(c ?? 1)));
    signal?.removeEventListener("abort", killGroup);
    return { code, stdout, stderr, text };
  }

  /** Replaces `from` (which must occur exactly once after `anchor`) by `to` in a file of the copy. */
  edit(file: string, anchor: string, from: string, to: string): void {
    const path = join(this.dir, file);
    const text = readFileSync(path, "utf8");
    const at = text.indexOf(anchor);
    const hit = at < 0 ? -1 : text.indexOf(from, at);
    if (hit < 0) throw new Error(`${file}: "${from}" not found after "${anchor}"`);
    writeFileSync(path, text.slice(0, hit) + to + text.slice(hit + from.length));
  }

  remove(): void {
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** The resources of a stack's state (`pulumi stack export`). */
export interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly id?: string;
  readonly protect?: boolean;
  readonly inputs?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
}

export function stateResources(project: EngineProject, stack: string): StateResource[] {
  const exported = JSON.parse(project.cliOk(["stack", "export", "--stack", stack])) as { deployment: { resources?: StateResource[] } };
  return exported.deployment.resources ?? [];
}

/** The "Resources:" summary of a preview or update: counts by operation ("to update", "unchanged", ...). */
export function summary(text: string): Record<string, number> {
  // `up` prints its preview's summary first and the update's last: the last one counts.
  const blocks = [...text.matchAll(/Resources:\n((?:[ \t]+[^\n]*\n?)+)/g)];
  const block = blocks.at(-1)?.[1] ?? "";
  const counts: Record<string, number> = {};
  for (const m of block.matchAll(/^\s+(?:[~+\-]+|\+-)?\s*(\d+) (to [a-z]+|unchanged|created|updated|deleted|replaced|changed)/gm)) {
    counts[m[2]] = Number(m[1]);
  }
  return counts;
}
