// Local mode's passwords and per-user credentials files. Passwords are generated once (crypto random) and kept
// in the state directory, so a restart reuses them along with the data. Each user's credentials file is a
// nats CLI context (the JSON that `nats context save` writes: url, user, password, inbox_prefix, and with --tls
// `ca`), so `nats --context <file>` works as that user, and nats.js reads the same fields (see clientOptions).

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { userSpecs, type UserName } from "../infra/users";
import type { StateLayout } from "./stateDir";

export type LocalPasswords = Readonly<Record<UserName, string>>;

/** The fields of a nats CLI context that local mode fills in. */
export interface NatsContextFile {
  readonly description: string;
  /** Comma-separated server URLs, as the nats CLI takes them. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** Without it, replies go to _INBOX.> and the user's permissions deny them. */
  readonly inbox_prefix: string;
  /**
   * The CA file (absolute path) the servers' certificates are signed by, when they require TLS. natscli
   * (jsm.go natscontext, v0.5.0) reads it as a plain file path (`~` expanded, relative to its working directory
   * otherwise), so local mode writes it absolute.
   */
  readonly ca?: string;
}

/** nats.js connection options for a credentials file. */
export interface ClientOptions {
  readonly servers: string[];
  readonly user: string;
  readonly pass: string;
  readonly inboxPrefix: string;
  /** TLS trusting only this CA file; absent: nats.js upgrades to TLS if a server asks, trusting Node's CAs. */
  readonly tls?: { readonly caFile: string };
}

function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The stored passwords; users without one (first run, or a user added since) get a new random one. */
export function loadOrCreatePasswords(layout: StateLayout): LocalPasswords {
  const stored: Record<string, unknown> = existsSync(layout.passwords)
    ? (JSON.parse(readFileSync(layout.passwords, "utf8")) as Record<string, unknown>)
    : {};
  const passwords = Object.fromEntries(
    userSpecs().map((s) => {
      const old = stored[s.name];
      return [s.name, typeof old === "string" && old.length > 0 ? old : newPassword()];
    }),
  ) as Record<UserName, string>;
  writeFileSync(layout.passwords, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600 });
  return passwords;
}

export function contextFile(user: UserName, servers: readonly string[], password: string, caFile?: string): NatsContextFile {
  const spec = userSpecs().find((s) => s.name === user);
  if (!spec) throw new Error(`unknown NATS user "${user}"`);
  return {
    description: `fluo-queue local: ${spec.description}`,
    url: servers.join(","),
    user,
    password,
    inbox_prefix: spec.inboxPrefix,
    ...(caFile ? { ca: caFile } : {}),
  };
}

/** Writes one context file per user (mode 0600), with `ca` when the servers require TLS; returns their paths by user. */
export function writeContextFiles(
  layout: StateLayout,
  servers: readonly string[],
  passwords: LocalPasswords,
  caFile?: string,
): Record<UserName, string> {
  const paths = {} as Record<UserName, string>;
  for (const spec of userSpecs()) {
    const path = layout.contextFile(spec.name);
    writeFileSync(path, `${JSON.stringify(contextFile(spec.name, servers, passwords[spec.name], caFile), null, 2)}\n`, { mode: 0o600 });
    paths[spec.name] = path;
  }
  return paths;
}

export function readContextFile(path: string): NatsContextFile {
  const raw = JSON.parse(readFileSync(path, "utf8")) as Partial<Record<keyof NatsContextFile, unknown>>;
  for (const key of ["url", "user", "password", "inbox_prefix"] as const) {
    if (typeof raw[key] !== "string" || raw[key] === "") throw new Error(`${path}: "${key}" is missing`);
  }
  if (raw.ca !== undefined && typeof raw.ca !== "string") throw new Error(`${path}: "ca" must be the path of a CA file`);
  return raw as NatsContextFile;
}

export function clientOptions(context: NatsContextFile): ClientOptions {
  return {
    servers: context.url.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    user: context.user,
    pass: context.password,
    inboxPrefix: context.inbox_prefix,
    // natscli writes "ca": "" for no CA.
    ...(context.ca ? { tls: { caFile: context.ca } } : {}),
  };
}
