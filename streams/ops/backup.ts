// Stream snapshot and restore over the raw JetStream API (nats.js 2.x has no snapshot API). The wire protocol,
// as nats-server 2.9 implements it (server/jetstream_api.go: jsStreamSnapshotRequest, streamSnapshot,
// processStreamRestore) and natscli/jsm.go uses it:
//
// Snapshot: subscribe to a deliver subject first (the server waits at most ~2s for interest), then request
//   $JS.API.STREAM.SNAPSHOT.<stream> {deliver_subject, no_consumers, chunk_size}. The answer holds the stream's
//   config and state. Chunks of an s2-compressed tar arrive on deliver_subject, each with a reply subject
//   $JS.SNAPSHOT.ACK.<stream>.<id>.<size>.<index> that must get an (empty) ack: the server stops sending when
//   8MiB are unacked. An empty message ends the stream (2.10+ add a status header: 204 = done, else an error).
// Restore: request $JS.API.STREAM.RESTORE.<stream> {config, state}; the answer's deliver_subject
//   ($JS.SNAPSHOT.RESTORE.<stream>.<id>) takes the chunks as requests, each answered with an empty ack (a
//   non-empty answer is an error). An empty request ends the upload and is answered, once the server has
//   rebuilt the stream, with a stream create response (the stream info, or the error). The server gives up on a
//   restore idle for 5s, and refuses one whose stream already exists (10130).
//
// The two files natscli writes (`nats backup stream <stream> <dir>`) are the same data: backup.json is
// {config, state} from the snapshot answer and the archive the concatenated chunks, so a backup written with
// writeBackupDir restores with `nats backup restore stream <dir>` and vice versa. The archive's name follows
// its format, as natscli 0.5 (jsm.go SnapshotDataFile) names it: servers from 2.15 send a NATSARC1 archive,
// stream.arc.s2; older ones an s2-compressed tar, stream.tar.s2. natscli's `backup info/validate/edit` read only
// the 2.15 format and go by the name, so the name must say what the bytes are.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInbox, Empty, type Msg, type NatsConnection, type StreamConfig, type StreamInfo, type StreamState } from "nats";

export const SNAPSHOT_API = (stream: string): string => `$JS.API.STREAM.SNAPSHOT.${stream}`;
export const RESTORE_API = (stream: string): string => `$JS.API.STREAM.RESTORE.${stream}`;

/** What the snapshot answer says about the stream, and what a restore request sends back (natscli's backup.json). */
export interface BackupMeta {
  readonly config: StreamConfig;
  readonly state: StreamState;
}

/** natscli's archive names: the 2.15+ NATSARC1 format, and the tar format of older servers. */
export const BACKUP_DATA_FILE = "stream.arc.s2";
export const LEGACY_BACKUP_DATA_FILE = "stream.tar.s2";
export type BackupDataFile = typeof BACKUP_DATA_FILE | typeof LEGACY_BACKUP_DATA_FILE;

export interface StreamBackup {
  readonly meta: BackupMeta;
  /** The snapshot exactly as the server streamed it (s2-compressed). */
  readonly data: Uint8Array;
  /** The file the data goes to in a backup directory: it names the format the server sent. */
  readonly dataFile: BackupDataFile;
}

/** The archive format a server sends, from its version (nats.js reports it in the connection's INFO). */
export function dataFileFor(serverVersion: string | undefined): BackupDataFile {
  const [major, minor] = (serverVersion ?? "").split(".").map(Number);
  return major > 2 || (major === 2 && minor >= 15) ? BACKUP_DATA_FILE : LEGACY_BACKUP_DATA_FILE;
}

export interface TransferOptions {
  /** The connection's inbox prefix: the deliver subject must lie where the user may subscribe. */
  readonly inboxPrefix: string;
  /** Fails when the server sends or answers nothing for this long (default 30s). */
  readonly idleTimeoutMs?: number;
}

export interface SnapshotOptions extends TransferOptions {
  /** Include the stream's consumers and their state (default true, as `nats stream backup`). */
  readonly consumers?: boolean;
  /** Bytes per chunk the server sends (default: the server's 128KiB). */
  readonly chunkSize?: number;
}

export interface RestoreOptions extends TransferOptions {
  /** Bytes per chunk sent to the server (default 128KiB, well under the default max_payload of 1MiB). */
  readonly chunkSize?: number;
  /** How long the server may take to rebuild the stream after the last chunk (default 10 min). */
  readonly finishTimeoutMs?: number;
}

const DEFAULT_IDLE_MS = 30_000;
const DEFAULT_RESTORE_CHUNK = 128 * 1024;

interface ApiError {
  readonly code: number;
  readonly err_code?: number;
  readonly description?: string;
}

/** The JetStream API's error answer, as an Error naming the operation. */
export class JetStreamApiError extends Error {
  constructor(
    readonly operation: string,
    readonly apiError: ApiError,
  ) {
    super(`${operation}: ${apiError.description ?? "error"} (code ${apiError.code}${apiError.err_code ? `, err_code ${apiError.err_code}` : ""})`);
    this.name = "JetStreamApiError";
  }
}

function parseAnswer(operation: string, msg: Msg): Record<string, unknown> {
  const text = new TextDecoder().decode(msg.data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${operation}: unexpected answer ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (typeof parsed !== "object" || parsed === null) throw new Error(`${operation}: unexpected answer ${text.slice(0, 200)}`);
  const answer = parsed as Record<string, unknown>;
  const error = answer.error as ApiError | undefined;
  if (error) throw new JetStreamApiError(operation, error);
  return answer;
}

function backupMeta(operation: string, answer: Record<string, unknown>): BackupMeta {
  const config = answer.config as StreamConfig | undefined;
  const state = answer.state as StreamState | undefined;
  if (typeof config?.name !== "string" || typeof state?.messages !== "number") {
    throw new Error(`${operation}: the answer has no stream config and state`);
  }
  return { config, state };
}

/** Takes a consistent snapshot of `stream` into memory. */
export async function snapshotStream(nc: NatsConnection, stream: string, options: SnapshotOptions): Promise<StreamBackup> {
  const operation = `snapshot of stream ${stream}`;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  const deliver = createInbox(options.inboxPrefix);
  const chunks: Uint8Array[] = [];

  let idle: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let settle!: (error?: Error) => void;
  const received = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      sub.unsubscribe();
      if (error) reject(error);
      else resolve();
    };
  });
  // Keep an early failure (e.g. the snapshot request refused) from surfacing as an unhandled rejection.
  received.catch(() => undefined);
  // The answer and the chunks travel separately, so the end may come before the answer: never re-arm after it.
  const arm = (): void => {
    if (finished) return;
    clearTimeout(idle);
    idle = setTimeout(() => settle(new Error(`${operation}: no data from the server for ${idleMs}ms`)), idleMs);
  };

  const sub = nc.subscribe(deliver, {
    callback: (err, msg) => {
      if (err) return settle(new Error(`${operation}: ${err.message}`));
      if (msg.data.length === 0) {
        // End of the snapshot. 2.9 sends it bare; later servers add a status (204 done, 408/500 failed).
        const code = msg.headers?.code ?? 0;
        if (code !== 0 && code !== 204) return settle(new Error(`${operation} failed: ${code} ${msg.headers?.description ?? ""}`.trim()));
        return settle();
      }
      chunks.push(msg.data);
      // Ack at once: the chunk is in memory, and the server paces itself by these acks.
      if (msg.reply) msg.respond(Empty);
      arm();
    },
  });

  let meta: BackupMeta;
  try {
    await nc.flush(); // the subscription must reach the server before the snapshot starts streaming
    const body = { deliver_subject: deliver, no_consumers: options.consumers === false, chunk_size: options.chunkSize };
    const answer = await nc.request(SNAPSHOT_API(stream), JSON.stringify(body), { timeout: idleMs });
    meta = backupMeta(operation, parseAnswer(operation, answer));
    arm();
  } catch (err) {
    settle(err as Error);
    throw err;
  }
  await received;

  const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  // The server that streamed it decides the format; nc.info is the server this connection is on.
  return { meta, data, dataFile: dataFileFor(nc.info?.version) };
}

/**
 * Recreates a stream (with its messages, and its consumers if the snapshot holds them) from a snapshot. The
 * stream must not exist. Resolves with the server's stream info of the restored stream.
 */
export async function restoreStream(nc: NatsConnection, backup: StreamBackup, options: RestoreOptions): Promise<StreamInfo> {
  const stream = backup.meta.config.name;
  const operation = `restore of stream ${stream}`;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  const chunkSize = options.chunkSize ?? DEFAULT_RESTORE_CHUNK;

  const started = parseAnswer(
    operation,
    await nc.request(RESTORE_API(stream), JSON.stringify({ config: backup.meta.config, state: backup.meta.state }), { timeout: idleMs }),
  );
  const deliver = started.deliver_subject;
  if (typeof deliver !== "string" || deliver === "") throw new Error(`${operation}: the server named no subject for the data`);

  for (let offset = 0; offset < backup.data.length; offset += chunkSize) {
    const ack = await nc.request(deliver, backup.data.subarray(offset, offset + chunkSize), { timeout: idleMs });
    if (ack.data.length > 0) {
      // A storage or limits failure: the server answers the chunk with the final (error) response or an -ERR text.
      const text = new TextDecoder().decode(ack.data);
      if (text.startsWith("{")) parseAnswer(operation, ack);
      throw new Error(`${operation} failed at byte ${offset}: ${text.slice(0, 200)}`);
    }
  }
  // The empty message ends the upload; the answer comes once the server has rebuilt the stream.
  const done = parseAnswer(operation, await nc.request(deliver, Empty, { timeout: options.finishTimeoutMs ?? 600_000 }));
  if (typeof (done.config as StreamConfig | undefined)?.name !== "string") throw new Error(`${operation}: the final answer has no stream info`);
  return done as unknown as StreamInfo;
}

export const BACKUP_META_FILE = "backup.json";

/** Writes a backup in natscli's directory layout (backup.json + the archive under its format's name). */
export function writeBackupDir(dir: string, backup: StreamBackup): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, BACKUP_META_FILE), `${JSON.stringify(backup.meta, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, backup.dataFile), backup.data, { mode: 0o600 });
  // An archive of the other format left from an earlier backup would make the directory ambiguous to natscli.
  const other = backup.dataFile === BACKUP_DATA_FILE ? LEGACY_BACKUP_DATA_FILE : BACKUP_DATA_FILE;
  rmSync(join(dir, other), { force: true });
}

/** Reads a backup directory written by writeBackupDir or by natscli (`nats backup stream`, `nats stream backup`). */
export function readBackupDir(dir: string): StreamBackup {
  const metaPath = join(dir, BACKUP_META_FILE);
  if (!existsSync(metaPath)) throw new Error(`${dir}: no ${BACKUP_META_FILE} (not a backup directory, or the backup did not finish)`);
  const meta = backupMeta(metaPath, JSON.parse(readFileSync(metaPath, "utf8")) as Record<string, unknown>);
  const present = ([BACKUP_DATA_FILE, LEGACY_BACKUP_DATA_FILE] as const).filter((f) => existsSync(join(dir, f)));
  if (present.length === 0) throw new Error(`${dir}: no ${BACKUP_DATA_FILE} (nor ${LEGACY_BACKUP_DATA_FILE} from a server before 2.15)`);
  if (present.length > 1) throw new Error(`${dir}: holds both ${BACKUP_DATA_FILE} and ${LEGACY_BACKUP_DATA_FILE}; keep the one that belongs to ${BACKUP_META_FILE}`);
  const dataFile = present[0];
  return { meta, data: new Uint8Array(readFileSync(join(dir, dataFile))), dataFile };
}
