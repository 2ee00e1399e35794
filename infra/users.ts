// The NATS users of FLUO and the grants that do not depend on the stream catalog.
// JetStream grants (publish subjects of streams, pull/ack subjects of consumers) are derived from the catalog in
// streams/ and merged on top in infra/userGrants.ts, so a new consumer never needs a hand edit here.

import { grant, mergePermissions, type Permissions } from "./permissions";
import type { SecretKey } from "./stackConfig";

/** Application users hold data-plane rights only; they never get CONSUMER.CREATE or the system account. */
export type AppUser = "fluo-bff" | "fluo-backend" | "fluo-workers";
export type UserName = AppUser | "fluo-provisioner" | "fluo-backup" | "fluo-system";

export const APP_ACCOUNT = "FLUO";
export const SYSTEM_ACCOUNT = "SYS";

export interface UserSpec {
  readonly name: UserName;
  readonly account: typeof APP_ACCOUNT | typeof SYSTEM_ACCOUNT;
  readonly description: string;
  /** Stack config key that may hold this user's password (a Pulumi secret). */
  readonly passwordKey: SecretKey;
  /**
   * Replies (request-reply, JetStream API answers, pull deliveries) go to `<inboxPrefix>.<id>`. A per-user
   * prefix keeps one user from reading another's replies, which with a shared `_INBOX.>` would include every
   * job a worker pulls. Clients set it as nats.js `inboxPrefix` / nats CLI `--inbox-prefix`.
   */
  readonly inboxPrefix: string;
  readonly base: Permissions;
}

const inbox = (user: string): string => `_INBOX_${user.replace(/-/g, "_").toUpperCase()}`;

// Request-reply between BFF and backend (ADR-007 "Request-Reply"): requests on rpc.backend.>, answered through
// allow_responses so the backend can only answer requests it actually received.
export const BACKEND_RPC_SUBJECTS = ["rpc.backend.>"];

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
];

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
      account: APP_ACCOUNT,
      description: "BFF: submits jobs, sends requests to the backend, follows signal status",
      passwordKey: "bffPassword",
      base: grant({ publish: BACKEND_RPC_SUBJECTS }),
    },
    {
      name: "fluo-backend",
      account: APP_ACCOUNT,
      description: "Backend: answers BFF requests, consumes signals",
      passwordKey: "backendPassword",
      base: grant({ subscribe: BACKEND_RPC_SUBJECTS, allowResponses: true }),
    },
    {
      name: "fluo-workers",
      account: APP_ACCOUNT,
      description: "Workers: pull jobs, publish signal status",
      passwordKey: "workersPassword",
      base: grant({}),
    },
    {
      name: "fluo-provisioner",
      account: APP_ACCOUNT,
      description: "Stream and consumer management by `pulumi up`, `npm run local` and `npm run drift`",
      passwordKey: "provisionerPassword",
      base: grant({ publish: PROVISIONING_SUBJECTS }),
    },
    {
      name: "fluo-backup",
      account: APP_ACCOUNT,
      description: "Stream backup and restore (snapshots); no publish to data subjects, no consumer or stream management",
      passwordKey: "backupPassword",
      base: grant({ publish: BACKUP_SUBJECTS }),
    },
    {
      name: "fluo-system",
      account: SYSTEM_ACCOUNT,
      description: "System account (server reports, `nats server ls`); no application data",
      passwordKey: "systemPassword",
      base: grant({ publish: [">"], subscribe: [">"] }),
    },
  ];
  // Every user may read its own inbox and no other.
  return users.map((u) => {
    const inboxPrefix = inbox(u.name);
    return { ...u, inboxPrefix, base: mergePermissions(u.base, grant({ subscribe: [`${inboxPrefix}.>`] })) };
  });
}
