// npm run backup -- --url <nats-url> --stream <name> --out <dir> [--no-consumers]
// npm run restore -- --url <nats-url> --dir <dir>
// Snapshot and restore of one stream as fluo-backup (streams/ops/backup.ts). The directory has natscli's layout
// (backup.json + stream.arc.s2, or stream.tar.s2 from servers before 2.15), so `nats backup restore stream <dir>`
// reads what this writes and `npm run restore` what `nats backup stream` writes. The
// password comes from --password or FLUO_QUEUE_BACKUP_PASSWORD (an environment variable keeps it out of shell
// history). Exit 0 done, 1 error (bad flags, unreachable server, refused login, API error), named.

import { connect, type NatsConnection } from "nats";
import { userSpecs } from "../infra/users";
import { readBackupDir, restoreStream, snapshotStream, writeBackupDir } from "../streams/ops/backup";
import { parseFlags, UsageError } from "./stackFile";
import { processIo, type Io } from "./io";

export const USAGE =
  "usage: npm run backup -- --url <nats-url> --stream <name> --out <dir> [--no-consumers] [--password <pw>]\n" +
  "       npm run restore -- --url <nats-url> --dir <dir> [--password <pw>]\n" +
  "  user: fluo-backup; password: --password or FLUO_QUEUE_BACKUP_PASSWORD";

export const PASSWORD_ENV = "FLUO_QUEUE_BACKUP_PASSWORD";
const BACKUP_USER = userSpecs().find((u) => u.name === "fluo-backup")!;


/** argv[0] is the command ("backup" or "restore", set by the npm script), the rest are its flags. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  let nc: NatsConnection | undefined;
  try {
    if (command !== "backup" && command !== "restore") throw new UsageError(USAGE);
    const { values, switches } = parseFlags(rest, {
      values: command === "backup" ? ["url", "stream", "out", "password"] : ["url", "dir", "password"],
      switches: command === "backup" ? ["no-consumers"] : [],
    });
    const dir = command === "backup" ? values.out : values.dir;
    if (!values.url || !dir || (command === "backup" && !values.stream)) throw new UsageError(USAGE);
    if (!/^(nats|tls):\/\/\S+$/.test(values.url)) throw new UsageError(`--url "${values.url}": must be a NATS URL such as nats://127.0.0.1:4222`);
    const password = values.password ?? io.env[PASSWORD_ENV];
    if (!password) throw new UsageError(`no password: pass --password or set ${PASSWORD_ENV}\n${USAGE}`);

    nc = await connect({
      servers: values.url.split(","),
      user: BACKUP_USER.name,
      pass: password,
      inboxPrefix: BACKUP_USER.inboxPrefix,
      reconnect: false,
      timeout: 5_000,
    });
    const options = { inboxPrefix: BACKUP_USER.inboxPrefix };
    if (command === "backup") {
      const backup = await snapshotStream(nc, values.stream, { ...options, consumers: !switches.has("no-consumers") });
      writeBackupDir(dir, backup);
      const s = backup.meta.state;
      io.out(`Backed up stream ${values.stream} (${s.messages} messages, seq ${s.first_seq}..${s.last_seq}, ${s.consumer_count} consumers) to ${dir}: ${backup.data.length} bytes.`);
    } else {
      const backup = readBackupDir(dir);
      const info = await restoreStream(nc, backup, options);
      io.out(`Restored stream ${info.config.name} from ${dir}: ${info.state.messages} messages, seq ${info.state.first_seq}..${info.state.last_seq}.`);
    }
    return 0;
  } catch (err) {
    io.err(`${command ?? "backup"}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await nc?.close();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
