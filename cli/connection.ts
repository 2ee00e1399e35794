// Where the operator CLIs (drift, backup, restore, bench) get server URLs and a user's password from, in this
// order: a nats CLI context file (--context, the files local mode writes), an explicit password (--password or
// an environment variable, with --url), or, when the URL is the local cluster's (or none is given), the
// credentials `npm run local` wrote. Nobody has to dig a password out of .local/credentials by hand.
// The CA that TLS servers are checked against comes from --ca, else the context file's `ca` (local mode's --tls
// writes it), else Node's own CAs plus NODE_EXTRA_CA_CERTS.
// Stacks with authentication nkey: a context whose `nkey` names a seed file (natscli's field) logs in with the seed.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ContextFileError, readContextFile, type NatsContext } from "../lib/natsContext";
import { userSpecs, type UserName, type UserSpec } from "../infra/users";
import { projectRoot } from "../infra/stackFile";
import { stateLayout, type ClusterRecord } from "../local/stateDir";
import { connectError } from "../streams/provider/client";
import type { OptionSpec } from "./args";
import { UsageError } from "./args";

interface ResolvedTarget {
  readonly servers: string[];
  readonly user: UserName;
  readonly inboxPrefix: string;
  /** The CA file TLS servers must be signed by (--ca or the context's `ca`); absent: Node's CAs. */
  readonly caFile?: string;
  /** Where the credentials came from, for the "connecting ..." line. */
  readonly source: string;
}

/** A password, or (a context with `nkey`, for stacks with authentication nkey) the user's NKEY seed. */
export type ResolvedConnection = ResolvedTarget & ({ readonly password: string } | { readonly seed: string });

export interface ConnectionFlags {
  readonly url?: string;
  readonly context?: string;
  readonly password?: string;
  readonly "state-dir"?: string;
  readonly ca?: string;
}

/** The flags every operator CLI takes for its connection, with the same help text. */
export const CONNECTION_OPTIONS = {
  url: { value: "<nats-url>", help: "server URL(s), comma-separated; default: the local cluster of `npm run local`" },
  context: { value: "<file>", help: "nats CLI context file (url, user, password, ca; or url and nkey, a seed file), e.g. .local/credentials/<user>.json" },
  password: { value: "<pw>", help: "the user's password (prefer the environment variable or --context: shell history keeps flags)" },
  "state-dir": { value: "<dir>", help: "local mode's state directory whose credentials to use (default .local)" },
  ca: { value: "<file>", help: "CA certificate (PEM) that the servers' TLS certificates are signed by; default: the context's ca, else Node's CAs and NODE_EXTRA_CA_CERTS" },
} as const satisfies Record<string, OptionSpec>;

const NATS_URL = /^(nats|tls):\/\/\S+$/;

function checkUrls(flag: string, text: string): string[] {
  const urls = text.split(",").map((u) => u.trim()).filter((u) => u !== "");
  const bad = urls.find((u) => !NATS_URL.test(u));
  if (urls.length === 0 || bad !== undefined) throw new UsageError(`${flag} "${text}": must be a NATS URL such as nats://127.0.0.1:4222 (comma-separated for several)`);
  return urls;
}

// localhost and 127.0.0.1 name the same local cluster, and so do nats:// and tls:// (nats.js upgrades to TLS
// when the server requires it).
const sameServer = (a: string): string => a.replace(/^(nats|tls):\/\//, "").replace(/^localhost:/, "127.0.0.1:").replace(/\/$/, "");

/** A CA file named by --ca or a context's `ca`: it must be a readable PEM certificate, or one line says why. */
export function checkCaFile(where: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${where} ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot be read (${code})`}; give the CA certificate (PEM) of the servers`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`${where} ${file}: not a PEM certificate (no "-----BEGIN CERTIFICATE-----"); give the CA certificate of the servers`);
  return file;
}

function fromContext(
  flag: string,
  file: string,
  wanted: UserSpec | undefined,
  urlFlag: string | undefined,
  caFlag: string | undefined,
  commandUser?: UserSpec,
): ResolvedConnection {
  let context: NatsContext;
  try {
    context = readContextFile(file);
  } catch (err) {
    if (err instanceof ContextFileError) throw new UsageError(`${flag} ${file}: ${err.detail}`);
    throw err;
  }
  let spec: UserSpec | undefined;
  if (context.login.kind === "nkey") {
    // An NKEY context names no user (the server refuses a login that names one beside the key), so the
    // command's own user gives the identity (inbox prefix, pinning).
    spec = commandUser ?? wanted;
    if (!spec) throw new UsageError(`${flag} ${file}: an NKEY context names no user; pass --user`);
  } else {
    const user = context.login.user;
    spec = userSpecs().find((u) => u.name === user);
    if (!spec) throw new UsageError(`${flag} ${file}: user "${user}" is not a NATS user of fluo-queue (${userSpecs().map((u) => u.name).join(", ")})`);
    if (wanted && spec.name !== wanted.name) {
      throw new UsageError(`${flag} ${file}: is a context of ${spec.name}, this command runs as ${wanted.name} (its file is credentials/${wanted.name}.json)`);
    }
  }
  const url = urlFlag ?? context.url;
  if (!url) throw new UsageError(`${flag} ${file}: has no "url"; add one or pass --url`);
  // A natscli context saved by hand may lack inbox_prefix; the user's permissions allow only its own.
  const inboxPrefix = context.inboxPrefix ?? spec.inboxPrefix;
  const caFile = caFlag ? checkCaFile("--ca", caFlag) : context.ca ? checkCaFile(`${flag} ${file}: ca`, context.ca) : undefined;
  const target = {
    servers: checkUrls(urlFlag ? "--url" : `${flag} ${file}: url`, url),
    user: spec.name,
    inboxPrefix,
    ...(caFile ? { caFile } : {}),
    source: file,
  };
  return context.login.kind === "nkey" ? { ...target, seed: context.login.seed } : { ...target, password: context.login.password };
}

function localRecord(stateDir: string): ClusterRecord | undefined {
  const layout = stateLayout(stateDir);
  if (!existsSync(layout.record)) return undefined;
  try {
    const record = JSON.parse(readFileSync(layout.record, "utf8")) as Partial<ClusterRecord>;
    return Array.isArray(record.servers) && record.servers.length > 0 && typeof record.contexts === "object" ? (record as ClusterRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection for `user`. `passwordEnv` is the variable this command reads; `wantedUser` pins the user a
 * --context must belong to (backup and restore run only as fluo-backup).
 */
export function resolveConnection(
  flags: ConnectionFlags,
  user: UserSpec,
  options: { readonly passwordEnv: string; readonly env: Readonly<Record<string, string | undefined>>; readonly pinUser: boolean },
): ResolvedConnection {
  if (flags.context) return fromContext("--context", flags.context, options.pinUser ? user : undefined, flags.url, flags.ca, user);
  const password = flags.password ?? options.env[options.passwordEnv];
  if (password) {
    if (!flags.url) throw new UsageError(`a password without --url: which server? pass --url <nats-url>`);
    const caFile = flags.ca ? checkCaFile("--ca", flags.ca) : undefined;
    return {
      servers: checkUrls("--url", flags.url),
      user: user.name,
      password,
      inboxPrefix: user.inboxPrefix,
      ...(caFile ? { caFile } : {}),
      source: flags.password ? "--password" : options.passwordEnv,
    };
  }
  const stateDir = flags["state-dir"] ?? join(projectRoot(), ".local");
  const record = localRecord(stateDir);
  const urls = flags.url ? checkUrls("--url", flags.url) : undefined;
  const local = record && (!urls || urls.every((u) => record.servers.map(sameServer).includes(sameServer(u))));
  if (record && local && record.contexts[user.name]) {
    const resolved = fromContext(`local mode's credentials`, record.contexts[user.name], user, flags.url, flags.ca, user);
    return { ...resolved, servers: urls ?? resolved.servers };
  }
  const where = urls ? `${urls.join(",")} is not the local cluster of ${stateDir}` : `no local cluster in ${stateDir} (start one with \`npm run local\`)`;
  throw new UsageError(
    `no credentials for ${user.name}: ${where}; pass --context <nats CLI context file>, or --url with --password or ${options.passwordEnv}`,
  );
}

/**
 * A failed connect of nats.js (its NatsError says only "TIMEOUT" or "CONNECTION_REFUSED") rephrased as the
 * provider's client does it: which URL, which user, what to check; printed as one line.
 */
export function connectFailure(servers: readonly string[], user: string, err: unknown, seed?: string): Error {
  return connectError({ servers, user, ...(seed !== undefined ? { seed } : {}) }, err);
}
