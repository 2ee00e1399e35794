// The NATS users of FLUO and the grants that do not depend on the stream catalog.
// JetStream grants (publish subjects of streams, pull/ack subjects of consumers) are derived from the catalog in
// streams/ and merged on top in infra/userGrants.ts, so a new consumer never needs a hand edit here.

import { grant, mergePermissions, type Permissions } from "./permissions";
import type { SecretKey } from "./stackConfig";

/** Application users hold data-plane rights only; they never get CONSUMER.CREATE or the system account. */
export type AppUser = "fluo-bff" | "fluo-backend" | "fluo-workers";
/** The identity a browser holds (docs/websocket.md): its credential is as public as the page that carries it. */
export type FrontendUser = "fluo-frontend";
export type UserName = AppUser | FrontendUser | "fluo-provisioner" | "fluo-backup" | "fluo-monitor" | "fluo-operator";

/** Every identity, in the order nats.conf lists them. */
export const USER_NAMES = ["fluo-bff", "fluo-backend", "fluo-workers", "fluo-frontend", "fluo-provisioner", "fluo-backup", "fluo-monitor", "fluo-operator"] as const satisfies readonly UserName[];

/** The login name of an identity's second credential while it rotates (same permissions and inbox). */
export const nextLoginOf = (user: UserName): string => `${user}-next`;

/** The identities that run inside application pods, and the administrative ones that never may. */
export const APP_USERS: readonly AppUser[] = ["fluo-bff", "fluo-backend", "fluo-workers"];
export const ADMIN_USERS: readonly UserName[] = ["fluo-provisioner", "fluo-backup", "fluo-monitor", "fluo-operator"];
/** Identities whose credential leaves the cluster in a web page: neither an application pod's nor an administrator's. */
export const FRONTEND_USERS: readonly FrontendUser[] = ["fluo-frontend"];

/** The credentials (passwords or NKEY seeds) of `users` by login name: their own, plus `<user>-next` for those rotating. */
export function pickCredentials<T>(
  passwords: Readonly<Partial<Record<UserName, T>>>,
  users: readonly UserName[],
  next: Readonly<Partial<Record<UserName, T>>> = {},
): Record<string, T> {
  return Object.fromEntries(
    users.flatMap((u) => [...(passwords[u] !== undefined ? [[u, passwords[u] as T] as const] : []), ...(next[u] !== undefined ? [[nextLoginOf(u), next[u] as T] as const] : [])]),
  );
}

/**
 * The account that holds every stream, with JetStream enabled and no user at all (infra/accounts.ts). Named as the
 * one account of the first releases was, so existing streams stay where they are.
 */
export const STREAM_ACCOUNT = "FLUO";
export const SYSTEM_ACCOUNT = "SYS";

/**
 * Each identity's own account. A request's answer (from the server or a responder) is delivered in the account
 * of the one who sent it, at the reply subject it picked; in an account of its own that subject reaches a stream
 * only through the identity's own imports, which are its publish rights (issue 19: in one shared account, 30 of
 * 30 such answers were stored where the sender may not publish). The system account's users stay in SYS.
 */
export const IDENTITY_ACCOUNTS: Readonly<Record<UserName, string>> = {
  "fluo-bff": "BFF",
  "fluo-backend": "BACKEND",
  "fluo-workers": "WORKERS",
  "fluo-frontend": "FRONTEND",
  "fluo-provisioner": "PROVISIONER",
  "fluo-backup": "BACKUP",
  "fluo-monitor": SYSTEM_ACCOUNT,
  "fluo-operator": SYSTEM_ACCOUNT,
};

export interface UserSpec {
  readonly name: UserName;
  /** IDENTITY_ACCOUNTS of the name. */
  readonly account: string;
  readonly description: string;
  /** Stack config key that may hold this user's password (a Pulumi secret). */
  readonly passwordKey: SecretKey;
  /** Stack config key that may hold this user's NKEY seed (a Pulumi secret), read when authentication uses NKEYs. */
  readonly seedKey: SecretKey;
  /**
   * Replies (request-reply, JetStream API answers, pull deliveries) go to `<inboxPrefix>.<id>`. A per-user
   * prefix keeps one user from reading another's replies, which with a shared `_INBOX.>` would include every
   * job a worker pulls. Clients set it as nats.js `inboxPrefix` / nats CLI `--inbox-prefix`.
   */
  readonly inboxPrefix: string;
  readonly base: Permissions;
  /**
   * Subjects this identity receives live from the accounts of the identities that publish them (a stream export
   * of the publisher's account, infra/accounts.ts), not from the stream account: nats-server does not pass a
   * message that arrived through a service import (every publish into FLUO does) on to a stream export
   * (client.go processMsgResults, "do not re-export to an exported stream"; seen on 2.15.3: nothing arrived).
   */
  readonly watches?: readonly string[];
  /** nats-server `allowed_connection_types`: absent = any (STANDARD, WEBSOCKET, ...). */
  readonly connectionTypes?: readonly ConnectionType[];
  /** Limits of each connection of the identity's account (nats.conf account `limits`); the account's connection count comes from stack config. */
  readonly connectionLimits?: ConnectionLimits;
}

/** The connection types of nats-server's `allowed_connection_types` that this project uses. */
export type ConnectionType = "STANDARD" | "WEBSOCKET";

export interface ConnectionLimits {
  /** Subscriptions per connection (nats-server closes a connection that asks for more: "maximum subscriptions exceeded"). */
  readonly maxSubscriptions: number;
  /** Largest message a connection may publish, in bytes. */
  readonly maxPayload: number;
}

/**
 * The signal subjects the UI shows (ADR-007 "Real-time Events"): a new signal, and every status change, the
 * backend's `signals.status.resolved` included.
 */
export const FRONTEND_SIGNAL_SUBJECTS = ["signals.created", "signals.status.*"];

/**
 * One browser tab's needs: the two signal subscriptions and the client's own inbox subscription, with room for a
 * page that resubscribes. It publishes nothing, so 1 KiB is plenty: a larger PUB closes the connection ("Maximum
 * Payload Violation", nats-server client.go) before the server reads its payload, where without a cap a tab could
 * make each server buffer up to 1 MiB per publish only to deny it.
 */
export const FRONTEND_CONNECTION_LIMITS: ConnectionLimits = { maxSubscriptions: 8, maxPayload: 1024 };

export const inboxPrefixOf = (user: UserName): string => `_INBOX_${user.replace(/-/g, "_").toUpperCase()}`;

// Request-reply between BFF and backend (ADR-007 "Request-Reply"): requests on rpc.backend.>.
export const BACKEND_RPC_SUBJECTS = ["rpc.backend.>"];

/** A request-reply service: who serves which subjects, and who may call it. */
export interface RpcService {
  readonly subjects: readonly string[];
  readonly responder: UserName;
  readonly requesters: readonly UserName[];
}

export const RPC_SERVICES: readonly RpcService[] = [
  { subjects: BACKEND_RPC_SUBJECTS, responder: "fluo-backend", requesters: ["fluo-bff"] },
];

/**
 * The grants of a service: requesters publish its subjects, the responder subscribes to them and answers them
 * (`allow_responses`). The service crosses accounts (infra/accounts.ts: the responder's account exports it, each
 * requester's imports it), so a request reaches the responder with a reply subject the server made, and the
 * answer lands in the requester's own account: a BFF request with reply `$JS.API.STREAM.DELETE.EVENTS` or
 * `signals.status.resolved` can no longer aim the backend's answer at the streams (audits, issues 12 and 19).
 */
export function rpcGrants(service: RpcService): Map<UserName, Permissions> {
  const grants = new Map<UserName, Permissions>();
  for (const requester of service.requesters) grants.set(requester, grant({ publish: service.subjects }));
  grants.set(service.responder, mergePermissions(grants.get(service.responder) ?? grant({}), grant({ subscribe: service.subjects, responses: true })));
  return grants;
}

// What a stream/consumer provisioning identity needs and nothing more (NOTES.md): stream and consumer
// management, no publish to data subjects, no message reads.
export const PROVISIONING_SUBJECTS = [
  "$JS.API.INFO",
  "$JS.API.STREAM.CREATE.*",
  "$JS.API.STREAM.UPDATE.*",
  "$JS.API.STREAM.INFO.*",
  "$JS.API.STREAM.DELETE.*",
  "$JS.API.STREAM.NAMES",
  "$JS.API.STREAM.LIST",
  "$JS.API.CONSUMER.CREATE.>",
  "$JS.API.CONSUMER.DURABLE.CREATE.>",
  "$JS.API.CONSUMER.INFO.>",
  "$JS.API.CONSUMER.DELETE.>",
  "$JS.API.CONSUMER.NAMES.>",
  "$JS.API.CONSUMER.LIST.>",
  // The runbooks' stream administration (README "NatsServerUnhealthy", "NatsFileStoreUsageCritical", "Scaling
  // replicas"): re-sync a replica, free space, move a leader. No more destructive than STREAM.DELETE above.
  "$JS.API.STREAM.PEER.REMOVE.*",
  "$JS.API.STREAM.PURGE.*",
  "$JS.API.STREAM.LEADER.STEPDOWN.*",
];

// The read-only server reports of the system account (nats-server events.go: each is answered on
// $SYS.REQ.SERVER.PING.<name> by every server and on $SYS.REQ.SERVER.<id>.<name> by one), as `nats server ls`,
// `nats server report` and `nats server check` request them. Left out on purpose: PROFILEZ (a CPU profile on
// demand), and the per-server control requests on the same prefix (KICK, LDM = lame duck, RELOAD).
const SERVER_REPORTS = ["IDZ", "STATSZ", "VARZ", "SUBSZ", "CONNZ", "ROUTEZ", "GATEWAYZ", "LEAFZ", "ACCOUNTZ", "JSZ", "HEALTHZ", "RAFTZ"];

/**
 * Monitoring in the system account: read-only reports and nothing else. Never `$JS.API.>` of the system account:
 * `$JS.API.ACCOUNT.PURGE.FLUO` deletes every stream of the application account, `$JS.API.META.LEADER.STEPDOWN`
 * forces a meta election (audit, issue 12). The exporter needs no NATS user at all (it reads the HTTP monitor port).
 */
export const MONITOR_SUBJECTS = [
  // `nats server ls` (natscli server_list_command.go) still sends the legacy STATSZ ping.
  "$SYS.REQ.SERVER.PING",
  ...SERVER_REPORTS.map((r) => `$SYS.REQ.SERVER.*.${r}`),
  // Per-account reports: $SYS.REQ.ACCOUNT.<account>.{CONNZ,SUBSZ,LEAFZ,JSZ,INFO,STATZ,CONNS} (5 tokens; the
  // claims updates of operator mode have 6).
  "$SYS.REQ.ACCOUNT.*.*",
];

/**
 * Cluster operations of the runbooks in the system account: the monitor's reports plus removing a dead server from
 * the meta group (`nats server raft peer-remove`, $JS.API.SERVER.REMOVE). No account purge, no meta step-down, no
 * lame duck or reload of a server.
 */
export const OPERATOR_SUBJECTS = [...MONITOR_SUBJECTS, "$JS.API.SERVER.REMOVE"];

// What a stream backup/restore identity needs and nothing more (nats-server 2.9 jetstream_api.go, checked on a
// live cluster by streams/backup.live.test.ts). It reads message data only through snapshots, which is its job;
// it cannot publish to data subjects, pull from consumers, create/delete consumers, or create/update/delete streams.
export const BACKUP_SUBJECTS = [
  // Account JetStream info: nats.js jetstreamManager() requests it before anything else.
  "$JS.API.INFO",
  // Choosing what to back up: `nats stream ls` and natscli's stream picker; expose nothing beyond STREAM.INFO.
  "$JS.API.STREAM.NAMES",
  "$JS.API.STREAM.LIST",
  // natscli loads the stream before a backup and checks before a restore that it does not exist yet.
  "$JS.API.STREAM.INFO.*",
  // The snapshot and restore requests themselves ($JS.API.STREAM.SNAPSHOT.<stream>, $JS.API.STREAM.RESTORE.<stream>)
  // are granted per catalog stream in streams/permissions.ts: a restore creates a stream with whatever config the
  // backup holds, so a wildcard would let this user create a stream over any subject and read it.
  // Flow-control acks: each chunk's reply subject is $JS.SNAPSHOT.ACK.<stream>.<nuid>.<chunk size>.<index>.
  "$JS.SNAPSHOT.ACK.>",
  // Restore chunks (and the empty EOF message) are requests to $JS.SNAPSHOT.RESTORE.<stream>.<nuid>.
  "$JS.SNAPSHOT.RESTORE.>",
];

export function userSpecs(): readonly UserSpec[] {
  const users: Array<Omit<UserSpec, "inboxPrefix">> = [
    {
      name: "fluo-bff",
      account: IDENTITY_ACCOUNTS["fluo-bff"],
      description: "BFF: submits jobs, sends requests to the backend, follows signal status",
      passwordKey: "bffPassword",
      seedKey: "bffSeed",
      base: grant({}),
    },
    {
      name: "fluo-backend",
      account: IDENTITY_ACCOUNTS["fluo-backend"],
      description: "Backend: answers BFF requests (the answers go back into the BFF's account only), consumes signals",
      passwordKey: "backendPassword",
      seedKey: "backendSeed",
      base: grant({}),
    },
    {
      name: "fluo-workers",
      account: IDENTITY_ACCOUNTS["fluo-workers"],
      description: "Workers: pull jobs, publish signal status",
      passwordKey: "workersPassword",
      seedKey: "workersSeed",
      base: grant({}),
    },
    {
      // Its credential is in every page that shows signals, so it is as good as public: it may receive the signal
      // subjects and nothing else, publish nothing (no JetStream API, no request), log in only over the WebSocket
      // listener, and its account caps connections, subscriptions and payload so one tab cannot exhaust the server.
      name: "fluo-frontend",
      account: IDENTITY_ACCOUNTS["fluo-frontend"],
      description: "Browsers (WebSocket only): receive signals.created and signals.status.*; publish nothing",
      passwordKey: "frontendPassword",
      seedKey: "frontendSeed",
      base: grant({ subscribe: FRONTEND_SIGNAL_SUBJECTS }),
      watches: FRONTEND_SIGNAL_SUBJECTS,
      connectionTypes: ["WEBSOCKET"],
      connectionLimits: FRONTEND_CONNECTION_LIMITS,
    },
    {
      name: "fluo-provisioner",
      account: IDENTITY_ACCOUNTS["fluo-provisioner"],
      description: "Stream and consumer management by `pulumi up`, `npm run local` and `npm run drift`",
      passwordKey: "provisionerPassword",
      seedKey: "provisionerSeed",
      base: grant({ publish: PROVISIONING_SUBJECTS }),
    },
    {
      name: "fluo-backup",
      account: IDENTITY_ACCOUNTS["fluo-backup"],
      description: "Stream backup and restore (snapshots); no publish to data subjects, no consumer or stream management",
      passwordKey: "backupPassword",
      seedKey: "backupSeed",
      base: grant({ publish: BACKUP_SUBJECTS }),
    },
    {
      name: "fluo-monitor",
      account: IDENTITY_ACCOUNTS["fluo-monitor"],
      description: "Monitoring (system account): read-only server and account reports; no application data",
      passwordKey: "monitorPassword",
      seedKey: "monitorSeed",
      base: grant({ publish: MONITOR_SUBJECTS }),
    },
    {
      name: "fluo-operator",
      account: IDENTITY_ACCOUNTS["fluo-operator"],
      description: "Cluster operator (system account): server reports and removing a dead server from the meta group",
      passwordKey: "operatorPassword",
      seedKey: "operatorSeed",
      base: grant({ publish: OPERATOR_SUBJECTS }),
    },
  ];
  const rpc = RPC_SERVICES.flatMap((service) => [...rpcGrants(service)]);
  // Every user may read its own inbox and no other.
  return users.map((u) => {
    const inboxPrefix = inboxPrefixOf(u.name);
    const services = rpc.filter(([user]) => user === u.name).map(([, p]) => p);
    const base = [...services, grant({ subscribe: [`${inboxPrefix}.>`] })].reduce(mergePermissions, u.base);
    return { ...u, inboxPrefix, base };
  });
}
