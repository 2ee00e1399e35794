// npm run preview|deploy|drift:state -- --stack <name>, npm run stack -- <operation> --stack <name>
// The Pulumi commands the workflows, the README and the engine tests run, in one place: each operation is the
// Pulumi CLI command with its flags (OPERATIONS), run on this program through the Automation API's inline
// program. Inline, because then the program needs only the `pulumi` CLI and no Node.js language host (which the
// engine tests cannot build), and CI runs exactly what the tests run.
// The CLI is the pinned build (tools/versions.json "pulumi") when built, else PULUMI_BIN, else `pulumi` on PATH;
// the pinned Kubernetes plugin and the SDK's pulumi-resource-pulumi-nodejs go on PATH for the engine to find.
// The backend and secrets are the usual environment: `pulumi login` / PULUMI_BACKEND_URL,
// PULUMI_ACCESS_TOKEN or PULUMI_CONFIG_PASSPHRASE.

import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { CommandError, LocalWorkspace, PulumiCommand, StackNotFoundError, type Stack } from "@pulumi/pulumi/automation";
import { resolveBinary } from "../tools/resolve";
import { projectRoot } from "../infra/stackFile";
import { parseFlags, UsageError } from "./stackFile";

/** One operation: the Pulumi command and its flags, as the README and the workflows write them. */
interface Operation {
  readonly command: "preview" | "up" | "refresh" | "destroy";
  readonly flags: readonly string[];
  readonly why: string;
}

/**
 * Every operation this project runs on a stack. `--refresh` everywhere a plan is made: without it the plan
 * compares with the state of the last run, so a change made on the server since then stays invisible.
 */
export const OPERATIONS = {
  preview: { command: "preview", flags: ["--diff", "--refresh"], why: "what `up` would change, with old and new values (pull requests)" },
  up: { command: "up", flags: ["--diff", "--refresh", "--yes"], why: "deploy; the live state counts (drift is put back)" },
  drift: {
    command: "refresh",
    flags: ["--preview-only", "--expect-no-changes", "--diff"],
    why: "drift check: every resource read back; exit non-zero on any difference, nothing written",
  },
  refresh: { command: "refresh", flags: ["--yes"], why: "write the live state into the Pulumi state" },
  destroy: { command: "destroy", flags: ["--yes"], why: "delete every resource of the stack (protected ones refuse)" },
} as const satisfies Record<string, Operation>;
export type OperationName = keyof typeof OPERATIONS;

/** The Pulumi CLI command line an operation stands for (README, workflows, logs). */
export function commandLine(name: OperationName, stack: string, extra: readonly string[] = []): string {
  const op = OPERATIONS[name];
  return ["pulumi", op.command, ...op.flags, ...extra, "--stack", stack].join(" ");
}

const USAGE =
  `usage: npm run stack -- <${Object.keys(OPERATIONS).join("|")}> --stack <name> [--expect-no-changes]\n` +
  "  (npm run preview / deploy / drift:state -- --stack <name> are preview / up / drift)";

/** PATH with the pinned Kubernetes plugin and the SDK's dynamic provider plugin in front, when they exist. */
export function pluginPath(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs: string[] = [];
  const kubernetes = resolveBinary("pulumi-kubernetes", "pulumi-resource-kubernetes", "PULUMI_KUBERNETES_PLUGIN");
  if (kubernetes?.source !== "PATH" && kubernetes) dirs.push(dirname(kubernetes.path));
  // pulumi-resource-pulumi-nodejs runs the SDK's dynamic provider host (streams and consumers); the CLI's own
  // distribution ships it beside `pulumi`, a CLI built from source does not.
  const sdk = join(root, "node_modules", "@pulumi", "pulumi");
  if (existsSync(join(sdk, "pulumi-resource-pulumi-nodejs"))) dirs.push(sdk);
  return [...dirs, env.PATH ?? ""].join(delimiter);
}

async function pulumiCommand(): Promise<PulumiCommand> {
  const resolved = resolveBinary("pulumi", "pulumi", "PULUMI_BIN");
  if (!resolved) {
    throw new UsageError("the Pulumi CLI was not found: `npm run tools -- pulumi` builds the pinned one (needs Go), or install it (https://www.pulumi.com/docs/install/) or set PULUMI_BIN");
  }
  // PulumiCommand wants the folder that holds bin/pulumi.
  const bin = dirname(resolved.path);
  return PulumiCommand.get({ root: dirname(bin), skipVersionCheck: false });
}

async function selectStack(stackName: string, root: string): Promise<Stack> {
  const program = async (): Promise<Record<string, unknown>> => {
    // A fresh process per command, so the program module is evaluated once, as under `pulumi up`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(join(root, "index.ts")) as Record<string, unknown>;
    return { ...exported };
  };
  try {
    return await LocalWorkspace.selectStack(
      { stackName, projectName: "fluo-queue", program },
      { workDir: root, pulumiCommand: await pulumiCommand(), envVars: { PATH: pluginPath(root) } },
    );
  } catch (err) {
    if (err instanceof StackNotFoundError) {
      throw new UsageError(`--stack ${stackName}: no such stack in the current backend; create it once with \`pulumi stack init ${stackName}\``);
    }
    throw err;
  }
}

export interface RunResult {
  readonly code: number;
}

/** Runs one operation on a stack, streaming the CLI's output; the exit code is the CLI's. */
export async function runOperation(
  name: OperationName,
  stackName: string,
  options: { readonly expectNoChanges?: boolean; readonly root?: string; readonly out?: (text: string) => void; readonly err?: (text: string) => void } = {},
): Promise<RunResult> {
  const root = options.root ?? projectRoot();
  const out = options.out ?? ((t: string) => process.stdout.write(t));
  const err = options.err ?? ((t: string) => process.stderr.write(t));
  const stack = await selectStack(stackName, root);
  const op: Operation = OPERATIONS[name];
  const has = (flag: string) => op.flags.includes(flag);
  const expectNoChanges = has("--expect-no-changes") || options.expectNoChanges === true;
  err(`$ ${commandLine(name, stackName, options.expectNoChanges && !has("--expect-no-changes") ? ["--expect-no-changes"] : [])}\n`);
  const streams = { onOutput: out, onError: err, color: "never" as const };
  try {
    if (op.command === "preview") await stack.preview({ ...streams, diff: has("--diff"), refresh: has("--refresh"), expectNoChanges });
    else if (op.command === "up") await stack.up({ ...streams, diff: has("--diff"), refresh: has("--refresh"), expectNoChanges });
    else if (op.command === "refresh") await stack.refresh({ ...streams, previewOnly: has("--preview-only"), expectNoChanges });
    else await stack.destroy({ ...streams });
    return { code: 0 };
  } catch (e) {
    if (e instanceof CommandError) {
      const result = (e as unknown as { commandResult?: { code?: number } }).commandResult;
      return { code: result?.code && result.code > 0 ? result.code : 1 };
    }
    throw e;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (!name || !(name in OPERATIONS)) throw new UsageError(name ? `unknown operation "${name}"\n${USAGE}` : USAGE);
    const { values, switches } = parseFlags(rest, { values: ["stack"], switches: ["expect-no-changes"] });
    if (!values.stack) throw new UsageError(`--stack is required\n${USAGE}`);
    if (!/^[A-Za-z0-9_.\-/]+$/.test(values.stack)) throw new UsageError(`--stack "${values.stack}": letters, digits, '.', '-', '_', '/' only`);
    const { code } = await runOperation(name as OperationName, values.stack, { expectNoChanges: switches.has("expect-no-changes") });
    return code;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`stack: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (require.main === module) main(process.argv.slice(2)).then((code) => (process.exitCode = code));
