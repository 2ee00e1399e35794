// npm run drift -- --stack <name> --url <nats-url> [--user <name>] [--password <pw>] [--json]
// Compares the stack's declared stream catalog with a live server, without Pulumi state. The password comes
// from --password or FLUO_QUEUE_PROVISIONER_PASSWORD (an environment variable keeps it out of shell history).
// Exit codes: 0 no drift, 2 drift, 1 error (bad flags, unreachable server, ...).

import { userSpecs } from "../infra/users";
import { deploymentModel } from "../model";
import { compareCatalog, driftTable, readLiveState, type Drift } from "../streams/ops/drift";
import { closeConnections, jetStreamManager, type ConnectionSettings } from "../streams/provider/client";
import { parseFlags, UsageError } from "./stackFile";
import { readStackConfig } from "../infra/stackFile";
import { processIo, type Io } from "./io";

export const USAGE =
  "usage: npm run drift -- --stack <name> --url <nats-url> [--user <name>] [--password <pw>] [--json]\n" +
  "  password: --password or FLUO_QUEUE_PROVISIONER_PASSWORD; user: fluo-provisioner unless --user\n" +
  "  exit: 0 no drift, 2 drift, 1 error";

export const PASSWORD_ENV = "FLUO_QUEUE_PROVISIONER_PASSWORD";


export interface DriftResult {
  readonly stack: string;
  readonly url: string;
  readonly drift: boolean;
  readonly differences: readonly Drift[];
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const json = argv.includes("--json");
  try {
    const { values } = parseFlags(argv, { values: ["stack", "url", "user", "password"], switches: ["json"] });
    if (!values.stack || !values.url) throw new UsageError(USAGE);
    if (!/^(nats|tls):\/\/\S+$/.test(values.url)) throw new UsageError(`--url "${values.url}": must be a NATS URL such as nats://127.0.0.1:4222`);
    const password = values.password ?? io.env[PASSWORD_ENV];
    if (!password) throw new UsageError(`no password: pass --password or set ${PASSWORD_ENV}\n${USAGE}`);
    const userName = values.user ?? "fluo-provisioner";
    const user = userSpecs().find((u) => u.name === userName);
    if (!user) throw new UsageError(`--user "${userName}": not a NATS user (${userSpecs().map((u) => u.name).join(", ")})`);

    const config = readStackConfig(values.stack);
    // The same model as pulumi up and render: overrides applied and the stream policy checked.
    const { catalog } = deploymentModel(config);
    const settings: ConnectionSettings = { servers: values.url.split(","), user: user.name, password, inboxPrefix: user.inboxPrefix };
    const live = await readLiveState(await jetStreamManager(settings));
    const differences = compareCatalog(catalog, live);
    const result: DriftResult = { stack: config.stack, url: values.url, drift: differences.length > 0, differences };
    if (json) {
      io.out(JSON.stringify(result, null, 2));
    } else if (differences.length === 0) {
      io.out(`No drift: ${values.url} matches stack ${config.stack} (${catalog.streams.length} streams, ${catalog.consumers.length} consumers).`);
    } else {
      io.out(`Drift between stack ${config.stack} and ${values.url} (${differences.length} difference(s)):\n${driftTable(differences)}`);
    }
    return differences.length > 0 ? 2 : 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (json) io.out(JSON.stringify({ error: message }));
    // Usage, config and connection errors alike: a message naming the flag, key or URL, and exit 1.
    io.err(`drift: ${message}`);
    return 1;
  } finally {
    await closeConnections();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
