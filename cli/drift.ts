// npm run drift -- --stack <name> [--url <nats-url>] [--context <file>] [--ca <file>] [--user <name>] [--password <pw>] [--json]
// Compares the stack's declared stream catalog with a live server, without Pulumi state. Credentials: a nats CLI
// context file, --password or FLUO_QUEUE_PROVISIONER_PASSWORD with --url, or local mode's (cli/connection.ts).
// Exit codes: 0 no drift, 2 drift, 1 error (bad flags, unreachable server, ...).

import { userSpecs } from "../infra/users";
import { deploymentModel } from "../model";
import { compareCatalog, driftTable, readLiveState, type Drift } from "../streams/ops/drift";
import { closeConnections, jetStreamManager, type ConnectionSettings } from "../streams/provider/client";
import { parseCommandLine, usage, UsageError, type CommandSpec } from "./args";
import { CONNECTION_OPTIONS, resolveConnection } from "./connection";
import { exitWhenFlushed, isOperationalError, isUserError, runCli } from "./errors";
import { readStackConfig } from "../infra/stackFile";
import { processIo, type Io } from "./io";

export const PASSWORD_ENV = "FLUO_QUEUE_PROVISIONER_PASSWORD";

export const DRIFT: CommandSpec<"stack" | "user" | "json" | keyof typeof CONNECTION_OPTIONS> = {
  command: "npm run drift --",
  summary: "compares the stack's declared streams and consumers with a live server",
  options: {
    stack: { value: "<name>", help: "the stack whose catalog is declared: Pulumi.<name>.yaml (required)", required: true },
    ...CONNECTION_OPTIONS,
    user: { value: "<name>", help: "NATS user to read as (default fluo-provisioner)" },
    json: { help: "print the result (or the error) as JSON on stdout" },
  },
  notes: [
    `credentials: --context <file>, or --url with --password or ${PASSWORD_ENV}; none: the local cluster's`,
    "exit: 0 no drift, 2 drift, 1 error",
  ],
};
export const USAGE = usage(DRIFT);

export interface DriftResult {
  readonly stack: string;
  readonly url: string;
  readonly drift: boolean;
  readonly differences: readonly Drift[];
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

async function drift(argv: readonly string[], io: Io, json: boolean): Promise<number> {
  const { values } = parseCommandLine(DRIFT, argv);
  if (!values.stack) throw new UsageError(`--stack is required\n${USAGE}`);
  const userName = values.user ?? "fluo-provisioner";
  const user = userSpecs().find((u) => u.name === userName);
  if (!user) throw new UsageError(`--user "${userName}": not a NATS user (${userSpecs().map((u) => u.name).join(", ")})`);
  const connection = resolveConnection(values, user, { passwordEnv: PASSWORD_ENV, env: io.env, pinUser: values.user !== undefined });

  const config = readStackConfig(values.stack, undefined, (line) => io.err(`warning: ${line}`));
  // The same model as pulumi up and render: overrides applied and the stream policy checked.
  const { catalog } = deploymentModel(config);
  const url = connection.servers.join(",");
  // A black-holed address takes the whole connect timeout: say what is being waited for.
  io.err(`drift: connecting to ${url} as ${connection.user} (credentials from ${connection.source}; gives up after 5 s)`);
  const settings: ConnectionSettings = { ...connection };
  const live = await readLiveState(await jetStreamManager(settings));
  const differences = compareCatalog(catalog, live);
  const result: DriftResult = { stack: config.stack, url, drift: differences.length > 0, differences };
  if (json) {
    io.out(JSON.stringify(result, null, 2));
  } else if (differences.length === 0) {
    io.out(`No drift: ${url} matches stack ${config.stack} (${catalog.streams.length} streams, ${catalog.consumers.length} consumers).`);
  } else {
    const fields = differences.reduce((n, d) => n + Math.max(1, d.fields.length), 0);
    io.out(
      `Drift between stack ${config.stack} and ${url}: ${plural(differences.length, "resource differs", "resources differ")} ` +
        `(${plural(fields, "row", "rows")} below):\n${driftTable(differences)}`,
    );
  }
  return differences.length > 0 ? 2 : 0;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const json = argv.includes("--json");
  try {
    return await runCli(
      "drift",
      async () => {
        try {
          return await drift(argv, io, json);
        } catch (err) {
          if (json && (isUserError(err) || isOperationalError(err))) io.out(JSON.stringify({ error: err.message }));
          throw err;
        }
      },
      io,
    );
  } finally {
    await closeConnections();
  }
}

if (require.main === module) void main(process.argv.slice(2)).then(exitWhenFlushed);
