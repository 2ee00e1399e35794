// npm run backup -- --stream <name> --out <dir> [--no-consumers] [--url <nats-url>] [--context <file>] [--password <pw>] [--ca <file>]
// npm run restore -- --dir <dir> [--url <nats-url>] [--context <file>] [--password <pw>] [--ca <file>]
// Snapshot and restore of one stream as fluo-backup (streams/ops/backup.ts). The directory has natscli's layout
// (backup.json + stream.arc.s2, or stream.tar.s2 from servers before 2.15), so `nats backup restore stream <dir>`
// reads what this writes and `npm run restore` what `nats backup stream` writes.
// Credentials: a nats CLI context file, --password or FLUO_QUEUE_BACKUP_PASSWORD with --url, or local mode's
// (cli/connection.ts). Exit 0 done, 1 error (bad flags, unreachable server, refused login, API error), named.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { userSpecs } from "../infra/users";
import { BACKUP_META_FILE, readBackupDir, restoreStream, snapshotStream, writeBackupDir } from "../streams/ops/backup";
import { parseCommandLine, usage, UsageError, type CommandSpec } from "./args";
import { CONNECTION_OPTIONS, connectFailure, resolveConnection } from "./connection";
import { exitWhenFlushed, runCli } from "./errors";
import { processIo, type Io } from "./io";

export const PASSWORD_ENV = "FLUO_QUEUE_BACKUP_PASSWORD";
const BACKUP_USER = userSpecs().find((u) => u.name === "fluo-backup")!;
const CREDENTIALS_NOTE = `user: fluo-backup; credentials: --context <file>, or --url with --password or ${PASSWORD_ENV}; none: the local cluster's`;

export const BACKUP: CommandSpec<"stream" | "out" | "no-consumers" | keyof typeof CONNECTION_OPTIONS> = {
  command: "npm run backup --",
  summary: "snapshots one stream (messages and, by default, its consumers) into a new directory",
  options: {
    stream: { value: "<name>", help: "the stream to back up (required)", required: true },
    out: { value: "<dir>", help: "a new or empty directory for backup.json and the data archive (required)", required: true },
    "no-consumers": { help: "leave the stream's consumers out of the snapshot" },
    ...CONNECTION_OPTIONS,
  },
  notes: [CREDENTIALS_NOTE],
};

export const RESTORE: CommandSpec<"dir" | keyof typeof CONNECTION_OPTIONS> = {
  command: "npm run restore --",
  summary: "restores a stream from a backup directory (ours or `nats stream backup`'s); the stream must not exist",
  options: {
    dir: { value: "<dir>", help: "the backup directory (required)", required: true },
    ...CONNECTION_OPTIONS,
  },
  notes: [CREDENTIALS_NOTE],
};

export const USAGE = `${usage(BACKUP)}\n${usage(RESTORE)}`;

/** A backup never lands on top of another one: refused before anything is read from the server. */
function assertBackupTarget(dir: string): void {
  if (dir === "-") throw new UsageError(`--out -: a backup is a directory (backup.json and the data archive), not a stream; give a new directory`);
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${dir}: is a file; give a new or empty directory`);
  if (readdirSync(dir).length > 0) throw new UsageError(`--out ${dir}: not empty (an earlier backup?); choose a new or empty directory, nothing was overwritten`);
}

function assertRestoreSource(dir: string): void {
  if (!existsSync(dir)) throw new UsageError(`--dir ${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--dir ${dir}: is a file; give the backup directory (backup.json and the data archive)`);
  if (!existsSync(join(dir, BACKUP_META_FILE))) throw new UsageError(`--dir ${dir}: no ${BACKUP_META_FILE}, not a backup directory`);
}

async function run(command: "backup" | "restore", rest: readonly string[], io: Io): Promise<number> {
  const spec = command === "backup" ? BACKUP : RESTORE;
  const { values, switches } = parseCommandLine<string>(spec, rest);
  const dir = command === "backup" ? values.out : values.dir;
  if (!dir || (command === "backup" && !values.stream)) {
    throw new UsageError(`${command === "backup" ? "--stream and --out are" : "--dir is"} required\n${usage(spec)}`);
  }
  if (command === "backup") assertBackupTarget(dir);
  else assertRestoreSource(dir);
  const connection = resolveConnection(values, BACKUP_USER, { passwordEnv: PASSWORD_ENV, env: io.env, pinUser: true });

  io.err(`${command}: connecting to ${connection.servers.join(",")} as ${connection.user} (credentials from ${connection.source}; gives up after 5 s)`);
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({
      servers: connection.servers,
      user: connection.user,
      pass: connection.password,
      inboxPrefix: connection.inboxPrefix,
      ...(connection.caFile ? { tls: { caFile: connection.caFile } } : {}),
      reconnect: false,
      timeout: 5_000,
    }).catch((err: unknown) => {
      throw connectFailure(connection.servers, connection.user, err);
    });
    const options = { inboxPrefix: connection.inboxPrefix };
    if (command === "backup") {
      const stream = values.stream!;
      const backup = await snapshotStream(nc, stream, { ...options, consumers: !switches.has("no-consumers") });
      writeBackupDir(dir, backup);
      const s = backup.meta.state;
      io.out(`Backed up stream ${stream} (${s.messages} messages, seq ${s.first_seq}..${s.last_seq}, ${s.consumer_count} consumers) to ${dir}: ${backup.data.length} bytes.`);
    } else {
      const backup = readBackupDir(dir);
      const info = await restoreStream(nc, backup, options);
      io.out(`Restored stream ${info.config.name} from ${dir}: ${info.state.messages} messages, seq ${info.state.first_seq}..${info.state.last_seq}.`);
    }
    return 0;
  } finally {
    await nc?.close();
  }
}

/** argv[0] is the command ("backup" or "restore", set by the npm script), the rest are its flags. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  return runCli(
    command === "restore" ? "restore" : "backup",
    () => {
      if (command !== "backup" && command !== "restore") throw new UsageError(`the first argument is "backup" or "restore" (the npm scripts pass it)\n${USAGE}`);
      return run(command, rest, io);
    },
    io,
  );
}

if (require.main === module) void main(process.argv.slice(2)).then(exitWhenFlushed);
