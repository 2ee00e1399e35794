// nats.conf, rendered from plain values by small fragments (server, JetStream, cluster, accounts) so each part
// can be read and tested alone. The same function serves Kubernetes (routes through the headless service,
// server_name from the pod) and local mode (127.0.0.1 ports): only the topology differs.

import { createHash } from "node:crypto";
import type { Permissions, SubjectRules } from "./permissions";
import type { AccountExport, AccountImport } from "./accounts";

export interface NatsTopology {
  /** A literal name, or an environment reference such as "$SERVER_NAME" resolved by the server at start. */
  readonly serverName: string;
  readonly host: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** Every member's route URL, this server's own included (the server skips itself). Empty: no cluster. */
  readonly routes: readonly string[];
  /** The server appends "/jetstream": store_dir "/data" keeps streams in /data/jetstream on the volume. */
  readonly storeDir: string;
  readonly pidFile: string;
  /** The leafnode listener's port (regions only: the peer region's standby connects here). */
  readonly leafPort?: number;
  /** The WebSocket listener's port (stack config `websocket`: browsers connect here). */
  readonly websocketPort?: number;
}

/** How one identity logs in: a user name with a bcrypt hash, or an NKEY (nats.conf then holds only its public key). */
export type NatsLogin =
  | { readonly user: string; /** A bcrypt hash ($2a$/$2b$...), never a plaintext password. */ readonly passwordHash: string }
  | { /** The user's public NKEY ("U..."); the seed stays with the client. */ readonly nkey: string };

export interface NatsUser {
  readonly login: NatsLogin;
  readonly permissions: Permissions;
  /** `allowed_connection_types` ("STANDARD", "WEBSOCKET"): absent = every type. */
  readonly connectionTypes?: readonly string[];
}

/** nats.conf account `limits`: connections of the whole account; subscriptions and payload of each connection. */
export interface AccountLimits {
  readonly maxConnections?: number;
  readonly maxSubscriptions?: number;
  readonly maxPayload?: number;
}

export interface NatsAccount {
  readonly name: string;
  readonly jetstream: boolean;
  readonly users: readonly NatsUser[];
  readonly exports?: readonly AccountExport[];
  readonly imports?: readonly AccountImport[];
  readonly limits?: AccountLimits;
}

/**
 * The server's WebSocket listener for browsers (docs/websocket.md). TLS with the cluster's certificates (the
 * input's `tls`) unless `noTls`; nats-server refuses a websocket block with neither.
 */
export interface WebsocketListener {
  /** Plain `ws://` (dev, or TLS ended in front of the server): the stack config allows it outside prod only. */
  readonly noTls: boolean;
  /** Page origins the server accepts an upgrade from (`scheme://host[:port]`); any other is refused. */
  readonly allowedOrigins: readonly string[];
}

/** PEM files as the server sees them (a mounted kubernetes.io/tls Secret, or local mode's generated files). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** The credentials every route must present; the server's own solicited routes carry them in their URLs. */
export interface RouteAuth {
  readonly user: string;
  readonly password: string;
  /**
   * Present the credentials, but do not check them (no `authorization` block): the window of a route password
   * change. nats-server accepts a single route user and password ("Cluster authorization does not allow multiple
   * users"), and a server reloaded with a new one drops every route to servers still on the old one.
   */
  readonly unchecked?: boolean;
}

/**
 * One region's link to its peer (docs/regions.md): every region listens for a leafnode, and a standby also
 * connects to its primary's listener. The link carries only the stream account (FLUO) and never a stream's
 * subjects, so each region's streams store only their own publishes; mirrors cross it through the JetStream API
 * of the other domain.
 */
export interface LeafLink {
  /** The user the peer's leafnode logs in as, bound to the stream account. */
  readonly user: string;
  readonly password: string;
  readonly account: string;
  /** Subjects that never cross the link, either way. */
  readonly denied: readonly string[];
  /** A standby's remotes: the primary's leafnode URLs (credentials are added when rendered). */
  readonly remoteUrls: readonly string[];
  /** The CA a standby checks the primary's certificate against (TLS only). */
  readonly remoteCaFile?: string;
}

export interface NatsConfInput {
  readonly topology: NatsTopology;
  /** TLS for client connections and routes; absent = plaintext (dev). */
  readonly tls?: TlsFiles;
  /** Route authorization; absent = any server that reaches the cluster port may join. */
  readonly routeAuth?: RouteAuth;
  readonly clusterName: string;
  readonly maxMemoryStore: number;
  readonly maxFileStore: number;
  /** JetStream's fsync interval ("2m" by default in the server), or "always": every write is synced. */
  readonly syncInterval?: string;
  readonly lameDuckDuration: string;
  readonly lameDuckGracePeriod: string;
  readonly accounts: readonly NatsAccount[];
  readonly systemAccount: string;
  /** This region's JetStream domain (regions only): each region has a meta group of its own. */
  readonly jetstreamDomain?: string;
  readonly leaf?: LeafLink;
  readonly websocket?: WebsocketListener;
}

const q = (s: string): string => JSON.stringify(s);
const serverNameValue = (s: string): string => (/^\$[A-Z_][A-Z0-9_]*$/.test(s) ? s : q(s));
const indent = (text: string, by = "  "): string =>
  text
    .split("\n")
    .map((line) => (line === "" ? line : by + line))
    .join("\n");
const list = (items: readonly string[]): string =>
  items.length === 0 ? "[]" : `[\n${items.map((i) => `  ${q(i)}`).join("\n")}\n]`;

export function serverFragment(i: NatsConfInput): string {
  const t = i.topology;
  return [
    `server_name: ${serverNameValue(t.serverName)}`,
    `listen: ${q(`${t.host}:${t.clientPort}`)}`,
    `http: ${q(`${t.host}:${t.monitorPort}`)}`,
    `pid_file: ${q(t.pidFile)}`,
    // Lame duck on shutdown: clients are told to reconnect elsewhere over the duration, after the grace period.
    `lame_duck_duration: ${q(i.lameDuckDuration)}`,
    `lame_duck_grace_period: ${q(i.lameDuckGracePeriod)}`,
  ].join("\n");
}

export function jetStreamFragment(i: NatsConfInput): string {
  return [
    "jetstream {",
    `  store_dir: ${q(i.topology.storeDir)}`,
    // Plain bytes: nats.conf reads "10GB" as 10 GiB, a unit mix-up waiting to happen.
    `  max_memory_store: ${i.maxMemoryStore}`,
    `  max_file_store: ${i.maxFileStore}`,
    ...(i.syncInterval ? [`  sync_interval: ${q(i.syncInterval)}`] : []),
    // A domain of its own per region: the standby elects its own meta leader, so it can promote its mirrors
    // while the primary is gone (in one super-cluster the meta group spans both and the DR side stalls, 10008).
    ...(i.jetstreamDomain ? [`  domain: ${q(i.jetstreamDomain)}`] : []),
    "}",
  ].join("\n");
}

function tlsBlock(files: TlsFiles): string {
  return [
    "tls {",
    `  cert_file: ${q(files.certFile)}`,
    `  key_file: ${q(files.keyFile)}`,
    `  ca_file: ${q(files.caFile)}`,
    // A slow TLS handshake under load (bcrypt connects, JetStream catch-up) must not drop the connection.
    "  timeout: 5",
    "}",
  ].join("\n");
}

/**
 * Client TLS: every client connection must be TLS (the server refuses a plaintext CONNECT). Clients authenticate
 * with their passwords, not certificates; they verify the server against the cluster's CA.
 */
export function tlsFragment(i: NatsConfInput): string {
  return i.tls ? tlsBlock(i.tls) : "";
}

/**
 * The WebSocket listener. Origins are checked by the server on the upgrade (a page from any other origin cannot
 * connect), and the browser's identity may log in only here (its `allowed_connection_types`).
 */
export function websocketFragment(i: NatsConfInput): string {
  const ws = i.websocket;
  const port = i.topology.websocketPort;
  if (!ws || port === undefined) return "";
  const tls = ws.noTls || !i.tls ? ["no_tls: true"] : [tlsBlock(i.tls)];
  return [
    "websocket {",
    indent(
      [
        `listen: ${q(`${i.topology.host}:${port}`)}`,
        ...tls,
        // An empty list would admit every origin: the stack config demands at least one.
        `allowed_origins: ${list(ws.allowedOrigins)}`,
        // A slow TLS and upgrade handshake must not hold a connection slot for long.
        `handshake_timeout: "5s"`,
      ].join("\n"),
    ),
    "}",
  ].join("\n");
}

/** `nats://host:port` with the route credentials in it: what the server presents when it solicits a route. */
export function routeUrlWithCredentials(route: string, auth: RouteAuth): string {
  const url = new URL(route);
  url.username = encodeURIComponent(auth.user);
  url.password = encodeURIComponent(auth.password);
  return url.toString().replace(/\/$/, "");
}

export function clusterFragment(i: NatsConfInput): string {
  const t = i.topology;
  if (t.routes.length === 0) return "";
  const routes = i.routeAuth ? t.routes.map((r) => routeUrlWithCredentials(r, i.routeAuth!)) : t.routes;
  return [
    "cluster {",
    `  name: ${q(i.clusterName)}`,
    `  listen: ${q(`${t.host}:${t.clusterPort}`)}`,
    indent(`routes: ${list(routes)}`),
    // Peers are known from the routes; advertising pod IPs to clients would hand them addresses that change.
    // (Explicit routes are retried forever, so pods that start in parallel find each other without extra settings.)
    "  no_advertise: true",
    // Route TLS is always mutual: nats-server requires and verifies the peer's certificate against ca_file, so
    // only servers holding a certificate of the cluster's CA can open a route.
    ...(i.tls ? [indent(tlsBlock(i.tls))] : []),
    // And the route credentials: a certificate alone (or, without TLS, network reach) is not enough to join.
    ...(i.routeAuth && !i.routeAuth.unchecked
      ? [indent(["authorization {", `  user: ${q(i.routeAuth.user)}`, `  password: ${q(i.routeAuth.password)}`, "  timeout: 5", "}"].join("\n"))]
      : []),
    "}",
  ].join("\n");
}

/** The leafnode block: the listener every region has, and a standby's remote to its primary. */
export function leafFragment(i: NatsConfInput): string {
  const link = i.leaf;
  const port = i.topology.leafPort;
  if (!link || port === undefined) return "";
  const denied = list(link.denied);
  const listener = [
    `listen: ${q(`${i.topology.host}:${port}`)}`,
    ...(i.tls ? [tlsBlock(i.tls)] : []),
    // The peer logs in to the stream account only. nats-server reads no permissions for leafnode users in a
    // config file, so what crosses is limited on the standby's remote (deny_imports/deny_exports below), and the
    // password is as strong a credential as the route password: whoever holds it joins the stream account.
    [
      "authorization {",
      `  users: [{ user: ${q(link.user)}, password: ${q(link.password)}, account: ${q(link.account)} }]`,
      "  timeout: 5",
      "}",
    ].join("\n"),
  ];
  const remotes =
    link.remoteUrls.length === 0
      ? []
      : [
          [
            "remotes: [",
            "  {",
            indent(`urls: ${list(link.remoteUrls.map((u) => leafUrlWithCredentials(u, link)))}`, "    "),
            `    account: ${q(link.account)}`,
            indent(`deny_imports: ${denied}`, "    "),
            indent(`deny_exports: ${denied}`, "    "),
            ...(i.tls ? [indent(["tls {", `  ca_file: ${q(link.remoteCaFile ?? i.tls.caFile)}`, "  timeout: 5", "}"].join("\n"), "    ")] : []),
            "  }",
            "]",
          ].join("\n"),
        ];
  return `leafnodes {\n${indent([...listener, ...remotes].join("\n"))}\n}`;
}

/** `nats-leaf://host:port` with the link's credentials in it: what a standby presents to its primary. */
export function leafUrlWithCredentials(url: string, link: Pick<LeafLink, "user" | "password">): string {
  const u = new URL(url);
  u.username = encodeURIComponent(link.user);
  u.password = encodeURIComponent(link.password);
  return u.toString().replace(/\/$/, "");
}

function rules(name: string, r: SubjectRules): string {
  const parts: string[] = [];
  if (r.allow.length > 0) parts.push(`allow: ${list(r.allow)}`);
  if (r.deny.length > 0) parts.push(`deny: ${list(r.deny)}`);
  // Nothing allowed: say so, since an absent block would allow everything.
  if (parts.length === 0) return `${name}: { deny: [">"] }`;
  return `${name} {\n${indent(parts.join("\n"))}\n}`;
}

function userBlock(u: NatsUser): string {
  const perms = [
    rules("publish", u.permissions.publish),
    rules("subscribe", u.permissions.subscribe),
    // One answer per request, within the server's default window: what a request-reply responder needs.
    ...(u.permissions.responses ? ["allow_responses: true"] : []),
  ];
  const login =
    "nkey" in u.login
      ? [`  nkey: ${q(u.login.nkey)}`]
      : // bcrypt hashes must be quoted: unquoted, the leading "$" would be read as a variable reference.
        [`  user: ${q(u.login.user)}`, `  password: ${q(u.login.passwordHash)}`];
  return [
    "{",
    ...login,
    "  permissions {",
    indent(perms.join("\n"), "    "),
    "  }",
    ...(u.connectionTypes ? [`  allowed_connection_types: [${u.connectionTypes.map(q).join(", ")}]`] : []),
    "}",
  ].join("\n");
}

function exportLine(e: AccountExport): string {
  const parts = [
    `${e.kind}: ${q(e.subject)}`,
    `accounts: [${e.importers.map(q).join(", ")}]`,
    ...(e.streamedResponses ? ['response_type: "stream"'] : []),
  ];
  return `{ ${parts.join(", ")} }`;
}

function limitsBlock(l: AccountLimits): string {
  const lines = [
    ...(l.maxConnections !== undefined ? [`max_connections: ${l.maxConnections}`] : []),
    ...(l.maxSubscriptions !== undefined ? [`max_subscriptions: ${l.maxSubscriptions}`] : []),
    ...(l.maxPayload !== undefined ? [`max_payload: ${l.maxPayload}`] : []),
  ];
  return `limits {\n${indent(lines.join("\n"))}\n}`;
}

const importLine = (i: AccountImport): string => `{ ${i.kind}: { account: ${q(i.account)}, subject: ${q(i.subject)} } }`;

function accountBlock(a: NatsAccount): string {
  const exports = a.exports ?? [];
  const imports = a.imports ?? [];
  return [
    `${a.name} {`,
    ...(a.jetstream ? ["  jetstream: enabled"] : []),
    // An account without users (the stream account) says so: nobody logs in where the streams are.
    indent(a.users.length === 0 ? "users: []" : `users: [\n${a.users.map((u) => indent(userBlock(u))).join("\n")}\n]`),
    ...(exports.length > 0 ? [indent(`exports: [\n${exports.map((e) => indent(exportLine(e))).join("\n")}\n]`)] : []),
    ...(imports.length > 0 ? [indent(`imports: [\n${imports.map((i) => indent(importLine(i))).join("\n")}\n]`)] : []),
    ...(a.limits ? [indent(limitsBlock(a.limits))] : []),
    "}",
  ].join("\n");
}

export function accountsFragment(i: NatsConfInput): string {
  const accounts = i.accounts.map(accountBlock);
  return [`accounts {\n${indent(accounts.join("\n"))}\n}`, `system_account: ${q(i.systemAccount)}`].join("\n");
}

const HEADER = "# Generated by fluo-queue (infra/natsConfig.ts). Do not edit: change the stack config instead.";

/** The complete nats.conf. */
export function renderNatsConf(i: NatsConfInput): string {
  return [HEADER, serverFragment(i), tlsFragment(i), websocketFragment(i), jetStreamFragment(i), clusterFragment(i), leafFragment(i), accountsFragment(i)]
    .filter((f) => f !== "")
    .join("\n\n")
    .concat("\n");
}

/**
 * Fingerprint of the parts of nats.conf that need a restart to take effect (listen addresses, store_dir,
 * JetStream limits: the server ignores a lowered limit on reload, cluster settings). Used as a pod-template
 * annotation so changing them rolls the pods one at a time. Accounts, users and permissions are left out:
 * the config reloader applies them with SIGHUP and no restart, and a password change must not restart pods.
 */
export function restartChecksum(i: NatsConfInput): string {
  // The route password is hot-reloaded (cluster authorization and routes reload in place, also its removal
  // during a rotation) and must not be fingerprinted into an annotation anyone may read: only whether route
  // auth is on counts.
  const masked: NatsConfInput = i.routeAuth ? { ...i, routeAuth: { user: i.routeAuth.user, password: "-" } } : i;
  // The set of account names: an account added by a reload gets imports that answer nothing (nats-server 2.15.3
  // and 2.14.10 answered its JetStream requests with 503 until a second reload or a restart; accounts.live.test.ts
  // shows it), so a new or removed account rolls the pods. Exports and imports of existing accounts reload in place.
  const accountNames = `accounts: ${i.accounts.map((a) => a.name).sort().join(",")}`;
  // The leafnode listener needs a restart to open (its remotes and credentials reload, but a listener added on
  // reload is refused); only whether there is one counts, never the link's password.
  const leaf = `leaf: ${i.topology.leafPort ?? "-"} ${i.jetstreamDomain ?? "-"}`;
  // Any change of the websocket block is refused on reload (nats-server reload.go: "not supported for Websocket").
  const restartRelevant = [serverFragment(masked), tlsFragment(masked), websocketFragment(masked), jetStreamFragment(masked), clusterFragment(masked), accountNames, leaf].join("\n");
  return createHash("sha256").update(restartRelevant).digest("hex");
}
