// The layout of local mode's state directory, and the record of the running cluster that the smoke check and
// the benchmark read to find it:
//
//   <state>/fluo-local.json        marker + record of the last start (URLs, monitor URLs, pids, credentials)
//   <state>/credentials/           passwords.json, bcrypt-hashes.json (salt key and hashes kept for the next
//                                  start), <user>.seed (NKEY seeds), one nats CLI context per user <user>.json
//                                  and, with authentication password+nkey, <user>.nkey.json (all mode 0600);
//                                  for the stack's rotatingUsers the same for the login <user>-next
//                                  (<user>-next.seed, <user>-next.json, <user>-next.nkey.json)
//   <state>/tls/                   with --tls: ca.crt, ca.key, server.crt, server.key (made once, reused)
//   <state>/nats-<i>/              nats.conf, nats.log, nats.pid and data/ (JetStream store) of server i

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Authentication } from "../infra/stackConfig";

export const RECORD_FILE = "fluo-local.json";

/** A state directory the user pointed at that local mode cannot use (or that holds no cluster): one line. */
export class StateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateDirError";
  }
}

export interface StateLayout {
  readonly root: string;
  readonly record: string;
  readonly credentials: string;
  readonly passwords: string;
  /** The bcrypt salt key and hashes of the last start (local/passwordHashCache.ts). */
  readonly bcryptHashes: string;
  /** The local CA and the servers' certificate (--tls). */
  readonly tls: string;
  /** The user's context: password or NKEY, as the authentication mode logs in. */
  contextFile(user: string): string;
  /** With password+nkey: the user's NKEY context, beside its password context. */
  nkeyContextFile(user: string): string;
  /** The user's NKEY seed ("SU...") alone, the file a context's `nkey` names. */
  seedFile(user: string): string;
}

export function stateLayout(dir: string): StateLayout {
  const root = resolve(dir);
  const credentials = join(root, "credentials");
  return {
    root,
    record: join(root, RECORD_FILE),
    credentials,
    passwords: join(credentials, "passwords.json"),
    bcryptHashes: join(credentials, "bcrypt-hashes.json"),
    tls: join(root, "tls"),
    contextFile: (user) => join(credentials, `${user}.json`),
    nkeyContextFile: (user) => join(credentials, `${user}.nkey.json`),
    seedFile: (user) => join(credentials, `${user}.seed`),
  };
}

/** What `npm run local` wrote about the cluster it runs. */
export interface ClusterRecord {
  readonly stack: string;
  readonly servers: readonly string[];
  readonly monitors: readonly string[];
  readonly pids: readonly number[];
  /** How the users log in (the stack's `authentication`, or --auth). Absent in records of earlier versions: password. */
  readonly authentication?: Authentication;
  /** Credentials (nats CLI context) file per user: password contexts, or NKEY contexts with authentication nkey. */
  readonly contexts: Readonly<Record<string, string>>;
  /** With password+nkey: each user's NKEY context, beside the password one in `contexts`. */
  readonly nkeyContexts?: Readonly<Record<string, string>>;
  /** With rotatingUsers: the context of each rotating user's `<user>-next` login, by user (as `contexts`). */
  readonly nextContexts?: Readonly<Record<string, string>>;
  /** With rotatingUsers and password+nkey: the `<user>-next` NKEY contexts, by user. */
  readonly nextNkeyContexts?: Readonly<Record<string, string>>;
  /** With --tls: the CA file clients trust (also in each context file as `ca`). */
  readonly ca?: string;
  readonly startedAt: string;
}

/** Refuses a non-empty directory that local mode did not create: it would be chmod-ed and, with --reset, emptied. */
function assertOwnedOrEmpty(layout: StateLayout, flag: string): void {
  if (!existsSync(layout.root)) return;
  const entries = readdirSync(layout.root);
  if (entries.length > 0 && !entries.includes(RECORD_FILE)) {
    throw new StateDirError(`${flag}: ${layout.root} is not a local-mode state directory (no ${RECORD_FILE}); choose an empty or new directory`);
  }
}

/** Creates the directory (private: it holds passwords) and marks it as local mode's. */
export function prepareStateDir(layout: StateLayout): void {
  assertOwnedOrEmpty(layout, "--state-dir");
  mkdirSync(layout.credentials, { recursive: true, mode: 0o700 });
  if (!existsSync(layout.record)) writeFileSync(layout.record, "{}\n", { mode: 0o600 });
  tightenStateDir(layout);
}

/**
 * Private again at every start: a file's mode is set only when it is created, so a passwords file or seed a user
 * loosened to 0644 stayed readable by everyone (issue 19). Folders become 0700, local mode's own files 0600: the
 * record, everything in credentials/ and tls/, and each server's nats.conf (it holds the route password). The
 * JetStream stores are left as the server wrote them.
 */
export function tightenStateDir(layout: StateLayout): void {
  const tighten = (path: string, mode: number): void => {
    if (existsSync(path)) chmodSync(path, mode);
  };
  tighten(layout.root, 0o700);
  tighten(layout.record, 0o600);
  for (const dir of [layout.credentials, layout.tls]) {
    if (!existsSync(dir)) continue;
    tighten(dir, 0o700);
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) tighten(join(dir, entry.name), 0o600);
  }
  for (const entry of readdirSync(layout.root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^nats-\d+$/.test(entry.name)) continue;
    tighten(join(layout.root, entry.name), 0o700);
    tighten(join(layout.root, entry.name, "nats.conf"), 0o600);
  }
}

/**
 * Empties the state directory for --reset. Refuses a non-empty directory without the marker, so a mistyped
 * `--state-dir ~ --reset` deletes nothing.
 */
export function resetStateDir(layout: StateLayout): void {
  assertOwnedOrEmpty(layout, "--reset");
  if (!existsSync(layout.root)) return;
  for (const entry of readdirSync(layout.root)) rmSync(join(layout.root, entry), { recursive: true, force: true });
}

export function writeRecord(layout: StateLayout, record: ClusterRecord): void {
  writeFileSync(layout.record, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

export function readRecord(layout: StateLayout): ClusterRecord {
  if (!existsSync(layout.record)) {
    throw new StateDirError(`no local cluster in ${layout.root}: start one with \`npm run local -- --state-dir ${layout.root}\``);
  }
  const record = JSON.parse(readFileSync(layout.record, "utf8")) as Partial<ClusterRecord>;
  if (!Array.isArray(record.servers) || record.servers.length === 0 || typeof record.contexts !== "object") {
    throw new StateDirError(`${layout.record}: the local cluster has not finished starting`);
  }
  return record as ClusterRecord;
}

/** A nats-server of this state directory that is still running (its pid file names a live process). */
export interface RunningServer {
  readonly name: string;
  readonly pid: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether `pid` runs the config file `conf`; where /proc is missing (macOS), any live pid counts. */
function runsConfig(pid: number, conf: string): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync("/proc/self/cmdline")) return true;
  try {
    return readFileSync(cmdline, "utf8").split("\0").includes(conf);
  } catch {
    return false;
  }
}

/**
 * Servers a running `npm run local` started from this directory, found by the pid files nats-server writes
 * (nats-<i>/nats.pid): a second start would overwrite their configs and pid files and then fail on the ports.
 * A pid file left by a crash whose pid now belongs to another program does not count.
 */
export function runningServers(layout: StateLayout): RunningServer[] {
  if (!existsSync(layout.root)) return [];
  const running: RunningServer[] = [];
  for (const name of readdirSync(layout.root).filter((e) => /^nats-\d+$/.test(e)).sort()) {
    const pidFile = join(layout.root, name, "nats.pid");
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && runsConfig(pid, join(layout.root, name, "nats.conf"))) running.push({ name, pid });
  }
  return running;
}

/** The record of the last start, if it got that far (for messages; readRecord is strict). */
export function lastRecord(layout: StateLayout): Partial<ClusterRecord> {
  try {
    return JSON.parse(readFileSync(layout.record, "utf8")) as Partial<ClusterRecord>;
  } catch {
    return {};
  }
}
