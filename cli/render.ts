// npm run render -- --stack <name> --out <dir|-> [--passwords <file.json>] [--seeds <file.json>] [--show-secrets]
// Writes every artifact `pulumi up` would apply, from the same code, without the Pulumi CLI or a cluster.
// `--out -` writes the Kubernetes objects (monitoring included) as one YAML stream instead, like `helm template`.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { deploymentModel, kubernetesManifests, renderFiles, type RenderOptions } from "../model";
import { exitWhenFlushed, runCli } from "./errors";
import { parseCommandLine, usage, UsageError, type CommandSpec } from "./args";
import { readStackConfig } from "../infra/stackFile";
import { processIo, type Io } from "./io";
import { usesNkeys, type Authentication } from "../infra/stackConfig";
import { isUserSeed, USER_SEED_HELP } from "../infra/nkeys";

export const RENDER: CommandSpec<"stack" | "out" | "passwords" | "seeds" | "show-secrets"> = {
  command: "npm run render --",
  summary: "writes nats.conf, kubernetes/, streams.json, monitoring/ and dashboards/ as `pulumi up` would apply them",
  options: {
    stack: { value: "<name>", help: "the stack: reads Pulumi.<name>.yaml (required)", required: true },
    out: { value: "<dir|->", help: 'output directory (new, empty or an earlier render); "-" writes one YAML stream to stdout (required)', required: true },
    passwords: { value: "<file.json>", help: 'JSON object of user name to password, e.g. {"fluo-bff": "..."}; default: placeholder hashes' },
    seeds: { value: "<file.json>", help: 'JSON object of user name to NKEY seed (authentication nkey or password+nkey); default: placeholder public keys' },
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
const SEEDS_SHAPE = 'a JSON object of user name to NKEY seed, e.g. {"fluo-bff": "SU..."}';

/** A JSON object of user name to non-empty string (`--passwords`, `--seeds`); `what` names one value. */
function readCredentials(flag: string, file: string, shape: string, what: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : "cannot be read"}; it must be ${shape}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: not valid JSON (${(err as Error).message.split("\n")[0]}); it must be ${shape}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${flag} ${file}: holds ${Array.isArray(parsed) ? "a list" : JSON.stringify(parsed)}; it must be ${shape}`);
  }
  const bad = Object.entries(parsed).find(([, v]) => typeof v !== "string" || v === "");
  if (bad) throw new UsageError(`${flag} ${file}: "${bad[0]}" is ${JSON.stringify(bad[1])}; every ${what} must be a non-empty string (${shape})`);
  return parsed as Record<string, string>;
}

function readSeeds(file: string, authentication: Authentication): Record<string, string> {
  if (!usesNkeys(authentication)) {
    throw new UsageError(`--seeds ${file}: the stack's fluo-queue:authentication is "${authentication}", which has no NKEY logins; drop --seeds or set authentication to "password+nkey" or "nkey"`);
  }
  const seeds = readCredentials("--seeds", file, SEEDS_SHAPE, "seed");
  for (const [user, seed] of Object.entries(seeds)) {
    if (!isUserSeed(seed.trim())) throw new UsageError(`--seeds ${file}: the value of "${user}" (not shown) is not ${USER_SEED_HELP}`);
  }
  return seeds;
}

export function main(argv: readonly string[], io: Io = processIo): number {
  const { values, switches } = parseCommandLine(RENDER, argv);
  if (!values.stack || !values.out) throw new UsageError(`--stack and --out are required\n${usage(RENDER)}`);
  const config = readStackConfig(values.stack, undefined, (line) => io.err(`warning: ${line}`));
  const options: RenderOptions = {
    passwords: values.passwords ? readCredentials("--passwords", values.passwords, PASSWORDS_SHAPE, "password") : undefined,
    seeds: values.seeds ? readSeeds(values.seeds, config.authentication) : undefined,
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
