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
import { delimiter, dirname, join, sep } from "node:path";
import { CommandError, LocalWorkspace, PulumiCommand, StackNotFoundError, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { resolveBinary } from "../tools/resolve";
import { projectRoot, readStackFileValues } from "../infra/stackFile";
import { HelpRequested, parseCommandLine, usage, UsageError, type CommandSpec } from "./args";

/** One Pulumi command and its flags. */
interface Step {
  readonly command: "preview" | "up" | "refresh" | "destroy";
  readonly flags: readonly string[];
}

/** An operation: its Pulumi command(s), and the ones GitOps mode runs instead (see GITOPS_EXCLUDE). */
interface Operation {
  readonly steps: readonly Step[];
  readonly gitOps: readonly Step[];
  readonly why: string;
}

/**
 * In GitOps mode (fluo-queue:renderYamlToDirectory) the Kubernetes provider 4.25 cannot read an object back: its
 * Read fails with "failed to read resource state due to unreachable cluster" before it looks at the render mode.
 * The manifests are the truth there anyway, so refreshes leave the Kubernetes objects out (URN glob), and
 * deploy refreshes the streams and consumers in a refresh of its own before `up`.
 */
export const GITOPS_EXCLUDE = "**kubernetes:**";

/**
 * Every operation this project runs on a stack. `--refresh` everywhere a plan is made: without it the plan
 * compares with the state of the last run, so a change made on the server since then stays invisible.
 * `--run-program` on refresh and destroy: without it the providers are configured from the state of the last
 * run, so a stack config change since then (`allowDestroy`, `natsUrl`, a password) would not count.
 */
export const OPERATIONS = {
  preview: {
    steps: [{ command: "preview", flags: ["--diff", "--refresh"] }],
    gitOps: [{ command: "preview", flags: ["--diff"] }],
    why: "what `up` would change, with old and new values (pull requests)",
  },
  // A preview first: the Automation API's `up` always passes --skip-preview, so a guard that refuses in the plan
  // would otherwise refuse in the middle of the update, after other resources (the Secret, the rules) changed.
  // A failing step ends the operation, so a refused preview changes nothing.
  up: {
    steps: [
      { command: "preview", flags: ["--refresh"] },
      { command: "up", flags: ["--diff", "--refresh", "--yes"] },
    ],
    gitOps: [
      { command: "refresh", flags: ["--run-program", "--yes", `--exclude=${GITOPS_EXCLUDE}`] },
      { command: "preview", flags: [] },
      { command: "up", flags: ["--diff", "--yes"] },
    ],
    why: "deploy: a preview first (a refusal stops it before any change), then up; the live state counts (drift is put back)",
  },
  drift: {
    steps: [{ command: "refresh", flags: ["--run-program", "--preview-only", "--expect-no-changes", "--diff"] }],
    gitOps: [{ command: "refresh", flags: ["--run-program", "--preview-only", "--expect-no-changes", "--diff", `--exclude=${GITOPS_EXCLUDE}`] }],
    why: "drift check: every resource read back; exit non-zero on any difference, nothing written",
  },
  refresh: {
    steps: [{ command: "refresh", flags: ["--run-program", "--yes"] }],
    gitOps: [{ command: "refresh", flags: ["--run-program", "--yes", `--exclude=${GITOPS_EXCLUDE}`] }],
    why: "write the live state into the Pulumi state",
  },
  destroy: {
    steps: [{ command: "destroy", flags: ["--run-program", "--yes"] }],
    gitOps: [{ command: "destroy", flags: ["--run-program", "--yes"] }],
    why: "delete every resource of the stack (protected ones refuse)",
  },
} as const satisfies Record<string, Operation>;
export type OperationName = keyof typeof OPERATIONS;

function stepLine(step: Step, stack: string, extra: readonly string[]): string {
  return ["pulumi", step.command, ...step.flags, ...extra, "--stack", stack].join(" ");
}

/** The Pulumi CLI command line(s) an operation stands for (README, workflows, logs), joined by " && ". */
export function commandLine(name: OperationName, stack: string, extra: readonly string[] = [], gitOps = false): string {
  const op: Operation = OPERATIONS[name];
  return (gitOps ? op.gitOps : op.steps).map((step) => stepLine(step, stack, extra)).join(" && ");
}


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
    // The program registers its resources when its modules are evaluated: an operation of several commands
    // (GitOps deploy: refresh, then up) runs it more than once in this process, so the project's own modules
    // are evaluated afresh each time (the SDK's stay loaded: they hold the runtime of the current command).
    const own = (path: string) => path.startsWith(root) && !path.includes(`${sep}node_modules${sep}`);
    for (const path of Object.keys(require.cache)) if (own(path)) delete require.cache[path];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(join(root, "index.ts")) as Record<string, unknown>;
    // A mode's outputs only: index.ts exports `seeds`/`adminSeeds` as undefined in password mode (and
    // `passwords` in NKEY mode), which the engine warns about on every run ("Undefined value (seeds)").
    return Object.fromEntries(Object.entries(exported).filter(([, value]) => value !== undefined));
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

/** Whether the stack's file switches GitOps mode on (`fluo-queue:renderYamlToDirectory`). */
function gitOpsMode(stackName: string, root: string): boolean {
  try {
    return typeof readStackFileValues(stackName, root).renderYamlToDirectory === "string";
  } catch {
    // No stack file (config kept elsewhere): the normal commands; the engine says what is wrong, if anything.
    return false;
  }
}

/** The value at a Pulumi property path ("spec.replicas", 'metadata.labels["app.kubernetes.io/name"]', "a[0]"). */
export function valueAtPath(root: unknown, path: string): unknown {
  const segments = [...path.matchAll(/\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3])) as string);
  let value: unknown = root;
  for (const segment of segments) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/**
 * `--diff` for refresh, which the Automation API of SDK 3.248 cannot pass: one line per resource the refresh found
 * changed, naming each changed field with its old (state) and new (live) value. The engine's detailed diff gives
 * the paths where the provider reports one (Kubernetes: "spec.replicas", a label); otherwise (the streams)
 * top-level outputs are compared. Only a step that carries both sides' outputs counts: a pre-event's `new` has
 * none, and reading it as empty printed every field as `=> undefined` (issue 18).
 */
export function refreshDiffLine(event: EngineEvent): string | undefined {
  const step = event.resOutputsEvent?.metadata ?? event.resourcePreEvent?.metadata;
  // A refresh's pre-event carries `new.outputs` as an empty object (seen on the pinned engine): not a reading.
  if (!step?.old?.outputs || !step.new?.outputs || Object.keys(step.new.outputs).length === 0 || step.op === "same") return undefined;
  const before = step.old.outputs;
  const after = step.new.outputs;
  const detailed = Object.keys(step.detailedDiff ?? {}).filter((path) => path !== "__provider" && !path.startsWith("__"));
  const paths =
    detailed.length > 0
      ? detailed
      : [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => k !== "__provider" && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  if (paths.length === 0) return undefined;
  const name = step.urn.split("::").pop();
  const fields = paths.sort().map((path) => `${path}: ${JSON.stringify(valueAtPath(before, path))} => ${JSON.stringify(valueAtPath(after, path))}`);
  return `  ~ ${step.type} ${name}: ${fields.join(", ")}\n`;
}

async function runStep(stack: Stack, step: Step, expectNoChanges: boolean, out: (t: string) => void, err: (t: string) => void): Promise<void> {
  const has = (flag: string) => step.flags.includes(flag);
  const exclude = step.flags.filter((f) => f.startsWith("--exclude=")).map((f) => f.slice("--exclude=".length));
  const streams = { onOutput: out, onError: err, color: "never" as const };
  if (step.command === "preview") await stack.preview({ ...streams, diff: has("--diff"), refresh: has("--refresh"), expectNoChanges });
  else if (step.command === "up") await stack.up({ ...streams, diff: has("--diff"), refresh: has("--refresh"), expectNoChanges });
  else if (step.command === "refresh") {
    const diffs = new Set<string>();
    const onEvent = (event: EngineEvent): void => {
      const line = has("--diff") ? refreshDiffLine(event) : undefined;
      if (line) diffs.add(line);
    };
    try {
      await stack.refresh({
        ...streams,
        previewOnly: has("--preview-only"),
        expectNoChanges: has("--expect-no-changes"),
        runProgram: has("--run-program"),
        exclude,
        onEvent,
      });
    } finally {
      if (diffs.size > 0) out(`Refresh found (state => live):\n${[...diffs].join("")}`);
    }
  } else await stack.destroy({ ...streams, runProgram: has("--run-program") });
}

/** Runs one operation on a stack, streaming the CLI's output; the exit code is the CLI's (first failing step). */
export async function runOperation(
  name: OperationName,
  stackName: string,
  options: { readonly expectNoChanges?: boolean; readonly root?: string; readonly out?: (text: string) => void; readonly err?: (text: string) => void } = {},
): Promise<RunResult> {
  const root = options.root ?? projectRoot();
  const out = options.out ?? ((t: string) => process.stdout.write(t));
  const err = options.err ?? ((t: string) => process.stderr.write(t));
  const gitOps = gitOpsMode(stackName, root);
  const stack = await selectStack(stackName, root);
  const op: Operation = OPERATIONS[name];
  for (const step of gitOps ? op.gitOps : op.steps) {
    // --expect-no-changes from the command line applies to the plan (preview/up), never to a preparatory refresh.
    const expectNoChanges = step.flags.includes("--expect-no-changes") || (options.expectNoChanges === true && step.command !== "refresh");
    const extra = expectNoChanges && !step.flags.includes("--expect-no-changes") ? ["--expect-no-changes"] : [];
    err(`$ ${stepLine(step, stackName, extra)}${gitOps ? "   (GitOps mode)" : ""}\n`);
    try {
      await runStep(stack, step, expectNoChanges, out, err);
    } catch (e) {
      if (e instanceof CommandError) {
        const result = (e as unknown as { commandResult?: { code?: number } }).commandResult;
        return { code: result?.code && result.code > 0 ? result.code : 1 };
      }
      throw e;
    }
  }
  return { code: 0 };
}

const STACK_COMMAND: CommandSpec<"stack" | "expect-no-changes"> = {
  command: `npm run stack -- <${Object.keys(OPERATIONS).join("|")}>`,
  summary: "one Pulumi operation on a stack (npm run preview / deploy / drift:state are preview / up / drift)",
  options: {
    stack: { value: "<name>", required: true, help: "the Pulumi stack (dev, prod, ...)" },
    "expect-no-changes": { help: "fail when the plan has any change (preview, up)" },
  },
  notes: Object.entries(OPERATIONS).map(([name, op]) => `${name.padEnd(8)} ${commandLine(name as OperationName, "<name>")}: ${op.why}`),
};

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === "--help" || name === "-h") throw new HelpRequested(usage(STACK_COMMAND));
    if (!name || !(name in OPERATIONS)) {
      throw new UsageError(`${name ? `unknown operation "${name}"` : "an operation is required"}; one of ${Object.keys(OPERATIONS).join(", ")}`);
    }
    const { values, switches } = parseCommandLine(STACK_COMMAND, rest);
    if (!values.stack) throw new UsageError("--stack <name> is required");
    if (!/^[A-Za-z0-9_.\-/]+$/.test(values.stack)) throw new UsageError(`--stack "${values.stack}": letters, digits, '.', '-', '_', '/' only`);
    const { code } = await runOperation(name as OperationName, values.stack, { expectNoChanges: switches.has("expect-no-changes") });
    return code;
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(err.usage);
      return 0;
    }
    if (err instanceof UsageError) {
      console.error(`stack: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (require.main === module) main(process.argv.slice(2)).then((code) => (process.exitCode = code));
