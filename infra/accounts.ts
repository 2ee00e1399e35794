// The NATS accounts of one deployment, derived from the identities' grants: which account holds whom, and the
// exports and imports that carry exactly the subjects each identity may publish across accounts.
//
// Why accounts (issue 19): a client may name ANY subject as the reply of a request it is allowed to send, and the
// server (for a JetStream API request) or a responder publishes the answer there. nats-server checks the reply
// only against `$JS.` and `_R_` prefixes, never against the sender's publish rights, so in one shared account the
// answers were stored by every stream listening on the subject (30 of 30 attempts). Now:
// - STREAM_ACCOUNT ("FLUO") holds the streams and no user. Everything that reaches a stream arrives through a
//   service import of an identity's account, or is published by the server itself (advisories).
// - Every identity has an account of its own. A request that crosses an import carries a reply the server made
//   (`_R_...`), and the answer is delivered back into the requester's account at the subject it picked. From
//   there it can reach a stream only through the requester's own imports, which are its publish rights: stored
//   where the sender may publish, or nowhere.
// - Exports name their importing accounts, so an account that is not listed cannot import a subject even if its
//   config said so.

import { subjectMatches, subjectsOverlap, type Permissions } from "./permissions";
import { RPC_SERVICES, STREAM_ACCOUNT, SYSTEM_ACCOUNT, type ConnectionLimits, type UserName } from "./users";
import type { UserGrant } from "./userGrants";

/** A subject one account offers to others: a service (requests, answered) or a stream (messages flowing out). */
export interface AccountExport {
  readonly kind: "service" | "stream";
  readonly subject: string;
  /** The only accounts that may import it. */
  readonly importers: readonly string[];
  /** Several answers to one request (a pull request's messages): the server keeps the reply mapping open. */
  readonly streamedResponses?: boolean;
}

export interface AccountImport {
  readonly kind: "service" | "stream";
  /** The exporting account. */
  readonly account: string;
  readonly subject: string;
}

/** One account's place in the layout; its users (logins with permissions) are added by the renderer. */
export interface AccountPlan {
  readonly name: string;
  readonly jetstream: boolean;
  /** The identities whose logins live here. */
  readonly identities: readonly UserName[];
  readonly exports: readonly AccountExport[];
  readonly imports: readonly AccountImport[];
  /** Per-connection limits of the account's identities (the frontend's); absent = the server's. */
  readonly connectionLimits?: ConnectionLimits;
}

/**
 * Where `watched` messages come from: every subject another identity may publish that `watched` covers (or that
 * covers it), in that identity's account. The narrower of the two is exported, so an export never offers more than
 * the watcher may receive nor more than the publisher may send.
 */
function watchSources(watched: string, grants: readonly UserGrant[], own: string): AccountImport[] {
  const sources: AccountImport[] = [];
  for (const { spec, permissions } of grants) {
    if (spec.account === own || spec.account === SYSTEM_ACCOUNT) continue;
    for (const published of permissions.publish.allow) {
      if (!subjectsOverlap(published, watched)) continue;
      const subject = subjectMatches(watched, published) ? published : watched;
      sources.push({ kind: "stream", account: spec.account, subject });
    }
  }
  return sources;
}

/**
 * Account info of the stream account. Imported by every account that imports JetStream subjects, allowed or not:
 * nats-server gives an account that does not import `$JS.API.INFO` its own `$JS.API.>` responder ("JetStream not
 * enabled for account", 10039), which then races the imported answers (seen on 2.15.3: a worker's consumer info
 * got the 503 of its own account). The user's permissions still decide whether it may send the request.
 */
export const ACCOUNT_INFO = "$JS.API.INFO";

/** Pull requests: one request, up to a batch of messages answered to its reply. */
const PULL_REQUEST = "$JS.API.CONSUMER.MSG.NEXT.";
/** Who may request a snapshot gets its chunks: the server publishes them in the stream account at the deliver subject. */
const SNAPSHOT_REQUEST = "$JS.API.STREAM.SNAPSHOT.";
/**
 * Restore chunks flow into the stream account as a stream, not as requests through a service import: a service
 * import adds a Nats-Request-Info header to every message, and the restore's chunk handler (nats-server 2.15.3
 * jetstream_api.go processStreamRestore) takes the header bytes for data, so the restored archive is corrupt and
 * the final empty message is never seen as the end. The server's acks go to the chunk's reply in the stream
 * account, the restorer's inbox, which reaches it through the same stream import as snapshot chunks.
 */
const RESTORE_CHUNKS = "$JS.SNAPSHOT.RESTORE.>";

/** The account that answers requests to `subject`: the responder's for a request-reply service, else the stream account. */
function servingAccount(subject: string, accountOf: (user: UserName) => string): string {
  const service = RPC_SERVICES.find((s) => s.subjects.some((pattern) => subjectMatches(pattern, subject) || pattern === subject));
  return service ? accountOf(service.responder) : STREAM_ACCOUNT;
}

function addExport(exports: Map<string, Map<string, AccountExport>>, account: string, entry: AccountExport): void {
  const byKey = exports.get(account) ?? new Map<string, AccountExport>();
  const key = `${entry.kind} ${entry.subject}`;
  const known = byKey.get(key);
  byKey.set(key, known ? { ...known, importers: [...new Set([...known.importers, ...entry.importers])].sort() } : entry);
  exports.set(account, byKey);
}

/** What an identity account imports: every subject it may publish, from the account that serves it. */
function importsOf(permissions: Permissions, accountOf: (user: UserName) => string, own: string): AccountImport[] {
  const imports = permissions.publish.allow.map((subject) => ({ kind: "service" as const, account: servingAccount(subject, accountOf), subject }));
  const fromStreams = imports.some((i) => i.account === STREAM_ACCOUNT);
  if (fromStreams && !imports.some((i) => i.subject === ACCOUNT_INFO)) imports.push({ kind: "service", account: STREAM_ACCOUNT, subject: ACCOUNT_INFO });
  return imports.filter((i) => i.account !== own);
}

/**
 * The whole layout: the stream account, one account per identity (the system account's users stay in SYS, which
 * has no streams), and the exports matching every import. Deterministic (sorted), so nats.conf diffs stay small.
 */
export function accountLayout(grants: readonly UserGrant[]): AccountPlan[] {
  const accountOf = (user: UserName): string => {
    const grant = grants.find((g) => g.spec.name === user);
    if (!grant) throw new Error(`no grants for "${user}", which a request-reply service names`);
    return grant.spec.account;
  };
  const exports = new Map<string, Map<string, AccountExport>>();
  const plans = new Map<string, { identities: UserName[]; imports: AccountImport[]; connectionLimits?: ConnectionLimits }>();
  /** What the stream account imports: restore chunks from the restorers' accounts. */
  const streamImports: AccountImport[] = [];
  for (const { spec, permissions } of grants) {
    const plan = plans.get(spec.account) ?? { identities: [], imports: [] };
    plan.identities.push(spec.name);
    if (spec.connectionLimits) plan.connectionLimits = spec.connectionLimits;
    plans.set(spec.account, plan);
    if (spec.account === SYSTEM_ACCOUNT) continue;
    const imports = importsOf(permissions, accountOf, spec.account).filter((i) => i.subject !== RESTORE_CHUNKS);
    if (permissions.publish.allow.includes(RESTORE_CHUNKS)) {
      addExport(exports, spec.account, { kind: "stream", subject: RESTORE_CHUNKS, importers: [STREAM_ACCOUNT] });
      streamImports.push({ kind: "stream", account: spec.account, subject: RESTORE_CHUNKS });
    }
    if (permissions.publish.allow.some((s) => s.startsWith(SNAPSHOT_REQUEST) || s === RESTORE_CHUNKS)) {
      // Snapshot chunks are published in the stream account at the deliver subject the client names, inside its inbox.
      imports.push({ kind: "stream", account: STREAM_ACCOUNT, subject: `${spec.inboxPrefix}.>` });
    }
    // Live messages to watchers (the frontend): straight from the publishers' accounts, where a publish is a plain
    // message; what arrived in FLUO through a service import is never passed on to a stream export.
    for (const watched of spec.watches ?? []) imports.push(...watchSources(watched, grants, spec.account));
    for (const i of imports) {
      plan.imports.push(i);
      addExport(exports, i.account, {
        kind: i.kind,
        subject: i.subject,
        importers: [spec.account],
        ...(i.kind === "service" && i.subject.startsWith(PULL_REQUEST) ? { streamedResponses: true } : {}),
      });
    }
  }
  const sortedExports = (account: string): AccountExport[] =>
    [...(exports.get(account)?.values() ?? [])].sort((a, b) => `${a.kind} ${a.subject}`.localeCompare(`${b.kind} ${b.subject}`));
  const sortImports = (imports: readonly AccountImport[]): AccountImport[] =>
    [...new Map(imports.map((i) => [`${i.kind} ${i.account} ${i.subject}`, i])).values()].sort((a, b) =>
      `${a.account} ${a.kind} ${a.subject}`.localeCompare(`${b.account} ${b.kind} ${b.subject}`),
    );
  const identityAccounts = [...plans.entries()]
    .filter(([name]) => name !== SYSTEM_ACCOUNT)
    .map(([name, plan]) => ({
      name,
      jetstream: false,
      identities: plan.identities,
      exports: sortedExports(name),
      imports: sortImports(plan.imports),
      ...(plan.connectionLimits ? { connectionLimits: plan.connectionLimits } : {}),
    }));
  return [
    { name: STREAM_ACCOUNT, jetstream: true, identities: [], exports: sortedExports(STREAM_ACCOUNT), imports: sortImports(streamImports) },
    ...identityAccounts,
    { name: SYSTEM_ACCOUNT, jetstream: false, identities: plans.get(SYSTEM_ACCOUNT)?.identities ?? [], exports: [], imports: [] },
  ];
}
