// npm run render -- --stack <name> --out <dir|-> [--passwords <file.json>] [--show-secrets]
// Writes every artifact `pulumi up` would apply, from the same code, without the Pulumi CLI or a cluster.
// `--out -` writes the Kubernetes objects (monitoring included) as one YAML stream instead, like `helm template`.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { deploymentModel, kubernetesManifests, renderFiles, type RenderOptions } from "../model";
import { exitWhenFlushed, runCli } from "./errors";
import { parseCommandLine, usage, UsageError, type CommandSpec } from "./args";
import { readStackConfig } from "../infra/stackFile";
import { processIo, type Io } from "./io";

export const RENDER: CommandSpec<"stack" | "out" | "passwords" | "show-secrets"> = {
  command: "npm run render --",
  summary: "writes nats.conf, kubernetes/, streams.json, monitoring/ and dashboards/ as `pulumi up` would apply them",
  options: {
    stack: { value: "<name>", help: "the stack: reads Pulumi.<name>.yaml (required)", required: true },
    out: { value: "<dir|->", help: 'output directory (new, empty or an earlier render); "-" writes one YAML stream to stdout (required)', required: true },
    passwords: { value: "<file.json>", help: 'JSON object of user name to password, e.g. {"fluo-bff": "..."}; default: placeholder hashes' },
    "show-secrets": { help: "write the config Secret as it is (default: each value redacted to its size and digest)" },
  },
  notes: ["example: npm run render -- --stack prod --out - | kubectl diff -f -"],
};

// "alerts" is where renders before the monitoring/ rename put the rule files: a re-render removes it.
const OWNED = ["nats.conf", "kubernetes", "streams.json", "monitoring", "dashboards", "alerts"];
// Marks a directory as render output: only such a directory (or an empty or new one) has OWNED paths replaced,
// so `--out .` in the project cannot delete the monitoring/ sources.
const MARKER = ".fluo-render";

function assertRenderDir(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out}: is a file; give a directory (new, empty or an earlier render), or "-" for stdout`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new UsageError(`--out ${out}: not empty and not a previous render output (no ${MARKER}); choose a new or empty directory`);
  }
}

const PASSWORDS_SHAPE = 'a JSON object of user name to password, e.g. {"fluo-bff": "..."}';

function readPasswords(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--passwords ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : "cannot be read"}; it must be ${PASSWORDS_SHAPE}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--passwords ${file}: not valid JSON (${(err as Error).message.split("\n")[0]}); it must be ${PASSWORDS_SHAPE}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--passwords ${file}: holds ${Array.isArray(parsed) ? "a list" : JSON.stringify(parsed)}; it must be ${PASSWORDS_SHAPE}`);
  }
  const bad = Object.entries(parsed).find(([, v]) => typeof v !== "string" || v === "");
  if (bad) throw new UsageError(`--passwords ${file}: "${bad[0]}" is ${JSON.stringify(bad[1])}; every password must be a non-empty string (${PASSWORDS_SHAPE})`);
  return parsed as Record<string, string>;
}

export function main(argv: readonly string[], io: Io = processIo): number {
  const { values, switches } = parseCommandLine(RENDER, argv);
  if (!values.stack || !values.out) throw new UsageError(`--stack and --out are required\n${usage(RENDER)}`);
  const config = readStackConfig(values.stack, undefined, (line) => io.err(`warning: ${line}`));
  const options: RenderOptions = {
    passwords: values.passwords ? readPasswords(values.passwords) : undefined,
    showSecrets: switches.has("show-secrets"),
  };
  const model = deploymentModel(config);
  if (values.out === "-") {
    process.stdout.write(kubernetesManifests(model, options));
    return 0;
  }
  const files = renderFiles(model, options);
  const out = resolve(values.out);
  assertRenderDir(out);
  for (const owned of OWNED) rmSync(join(out, owned), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, MARKER), "written by npm run render; its files are replaced by the next render\n");
  for (const file of files) {
    mkdirSync(dirname(join(out, file.path)), { recursive: true });
    writeFileSync(join(out, file.path), file.content);
  }
  io.out(`Rendered stack ${config.stack} into ${out}: ${files.map((f) => f.path).join(", ")}`);
  return 0;
}

if (require.main === module) void runCli("render", () => main(process.argv.slice(2))).then(exitWhenFlushed);
