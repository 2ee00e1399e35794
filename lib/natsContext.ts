// nats CLI context files (the JSON `nats context save` writes), read the same way by every command that takes
// one: local mode's smoke check and benchmark, and the operator CLIs' --context (cli/connection.ts). A context
// logs in either with `user` and `password` or with `nkey`, the path of a file holding the user's NKEY seed
// (natscli v0.5.0 reads the field as a file, not the seed itself). `ca` names the CA file of TLS servers.

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve as resolvePath } from "node:path";
import { nkeyAuthenticator, type Authenticator } from "nats";
import { isUserSeed, USER_SEED_HELP } from "../infra/nkeys";

/** How a context logs in. */
export type ContextLogin =
  | { readonly kind: "password"; readonly user: string; readonly password: string }
  | { readonly kind: "nkey"; /** Absolute path of the seed file. */ readonly seedFile: string; readonly seed: string };

/** A context file, checked: what it holds, nothing defaulted (commands fill in what they know, e.g. the inbox). */
export interface NatsContext {
  readonly file: string;
  /** Comma-separated server URLs, as natscli takes them; absent when the file has none (a command's --url may). */
  readonly url?: string;
  readonly login: ContextLogin;
  readonly inboxPrefix?: string;
  /** The CA file TLS servers must be signed by; natscli writes "" for none, read as absent. */
  readonly ca?: string;
}

/** A context file that cannot be used: `detail` says what is wrong in it, the message adds the file. */
export class ContextFileError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "ContextFileError";
  }
}

const CONTEXT_HELP = "a nats CLI context is a JSON object with url, user and password (or url and nkey, a seed file)";

function readObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ContextFileError(file, code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot be read (${code})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ContextFileError(file, `not valid JSON; ${CONTEXT_HELP}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ContextFileError(file, `must be a JSON object; ${CONTEXT_HELP}`);
  return parsed as Record<string, unknown>;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/** The seed in the file a context's `nkey` names: `~` expanded, a relative path taken from the context's directory. */
function readSeed(file: string, nkeyFile: string): { seedFile: string; seed: string } {
  const seedFile = resolvePath(dirname(file), nkeyFile.replace(/^~(?=\/)/, homedir()));
  let seed: string;
  try {
    seed = readFileSync(seedFile, "utf8").trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ContextFileError(file, `"nkey" ${seedFile}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code})`}`);
  }
  if (!isUserSeed(seed)) throw new ContextFileError(file, `"nkey" ${seedFile} does not hold ${USER_SEED_HELP}`);
  return { seedFile, seed };
}

/** Reads and checks a context file; a ContextFileError names what is wrong (never a password or seed). */
export function readContextFile(file: string): NatsContext {
  const raw = readObject(file);
  const nkeyFile = text(raw.nkey);
  let login: ContextLogin;
  if (nkeyFile) {
    // The server knows an NKEY login by its key alone and refuses one that also names a user (natscli v0.5.0
    // sends the context's "user" too: "Authorization Violation").
    if (raw.user !== undefined) throw new ContextFileError(file, 'has both "nkey" and "user"; with an NKEY the server refuses a login that also names a user, so remove "user"');
    login = { kind: "nkey", ...readSeed(file, nkeyFile) };
  } else {
    for (const key of ["user", "password"] as const) {
      if (!text(raw[key])) throw new ContextFileError(file, `"${key}" is missing; ${CONTEXT_HELP}`);
    }
    login = { kind: "password", user: raw.user as string, password: raw.password as string };
  }
  if (raw.ca !== undefined && typeof raw.ca !== "string") throw new ContextFileError(file, '"ca" must be the path of a CA file');
  const url = text(raw.url);
  const inboxPrefix = text(raw.inbox_prefix);
  const ca = text(raw.ca);
  return { file, login, ...(url ? { url } : {}), ...(inboxPrefix ? { inboxPrefix } : {}), ...(ca ? { ca } : {}) };
}

/** The nats.js connect options that log in as a context says. */
export interface ClientOptions {
  readonly servers: string[];
  readonly inboxPrefix: string;
  readonly user?: string;
  readonly pass?: string;
  /** Signs the server's nonce with the context's seed (nats.js nkeyAuthenticator). */
  readonly authenticator?: Authenticator;
  /** TLS trusting only this CA file; absent: nats.js upgrades to TLS if a server asks, trusting Node's CAs. */
  readonly tls?: { readonly caFile: string };
}

/**
 * nats.js options for a context. It must name its servers and its inbox prefix: without the prefix, replies go to
 * _INBOX.> and fluo-queue users' permissions deny them.
 */
export function clientOptions(context: NatsContext): ClientOptions {
  if (!context.url) throw new ContextFileError(context.file, '"url" is missing');
  if (!context.inboxPrefix) throw new ContextFileError(context.file, '"inbox_prefix" is missing (the user\'s permissions allow replies only to its own)');
  const login =
    context.login.kind === "nkey"
      ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(context.login.seed)) }
      : { user: context.login.user, pass: context.login.password };
  return {
    servers: context.url.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    inboxPrefix: context.inboxPrefix,
    ...login,
    ...(context.ca ? { tls: { caFile: context.ca } } : {}),
  };
}
