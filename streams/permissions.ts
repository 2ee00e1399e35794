// Least-privilege JetStream grants derived from the catalog (NOTES.md "Permissions that JetStream clients
// really need", re-verified by permissions.live.test.ts). Merged onto the base grants of infra/users.ts by
// model.ts `userGrants(catalogGrants(catalog))`, so a new consumer never needs a hand-written rule.
//
// - A publisher gets publish on the subjects it declares (PUBLICATIONS) inside streams that list it; a JetStream publish-with-ack needs nothing more than
//   that plus its own inbox (the ack is a reply), which users.ts already grants.
// - A consumer user gets, for each of its consumers only: consumer info (nats.js `consumers.get`), pull
//   (`MSG.NEXT`) and ack/nak/in-progress/term (`$JS.ACK.<stream>.<consumer>.>`). Never CONSUMER.CREATE (it
//   would let it read any stream through a consumer of its own), never STREAM.* management, never `$SYS`.

import { grant, mergePermissions, subjectMatches, type Permissions } from "../infra/permissions";
import { PUBLICATIONS, type Publication } from "./catalog";
import type { UserName } from "../infra/users";
import type { Catalog, ConsumerSpec, StreamSpec } from "./spec";

/** The subjects a pull consumer's user must be able to publish to (requests and acks). */
export function consumerSubjects(c: Pick<ConsumerSpec, "stream" | "name">): string[] {
  return [
    `$JS.API.CONSUMER.INFO.${c.stream}.${c.name}`,
    `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.name}`,
    `$JS.ACK.${c.stream}.${c.name}.>`,
  ];
}

/**
 * The subjects `user` may publish into `stream`: the publications it declares (streams/catalog.ts PUBLICATIONS)
 * that the stream captures, not the stream's whole subject space. So the workers may publish signal status
 * changes but not `signals.created` by someone else's name, and the BFF only the job types that have a consumer.
 */
export function publishSubjects(stream: StreamSpec, user: UserName, publications: readonly Publication[] = PUBLICATIONS): string[] {
  if (!stream.publishers.includes(user)) return [];
  const captured = publications.filter((p) => p.publisher === user && stream.subjects.some((s) => subjectMatches(s, p.subject)));
  return [...new Set(captured.map((p) => p.subject))].sort();
}

/**
 * The other publishers' subjects that `user`'s own wildcards would also match, to deny: `signals.status.*`
 * (workers) covers `signals.status.resolved` (the backend's), and without the deny the workers could resolve
 * signals in the backend's name (audit, issue 12). A subject the user declares itself is never denied.
 * nats-server applies publish deny after allow, for ordinary publishes (the workers have no allow_responses).
 */
export function publishDenials(user: UserName, publications: readonly Publication[] = PUBLICATIONS): string[] {
  const own = publications.filter((p) => p.publisher === user).map((p) => p.subject);
  const theirs = publications.filter((p) => p.publisher !== user && !own.includes(p.subject));
  const denied = theirs.filter((p) => own.some((pattern) => subjectMatches(pattern, p.subject))).map((p) => p.subject);
  return [...new Set(denied)].sort();
}

const MAX_DELIVERIES_PREFIX = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.";

/**
 * The stream whose max-deliveries advisories a dead-letter stream captures, if it is one. Its consumers'
 * users may fetch the failed message from that stream by sequence (the advisory carries stream_seq); the
 * message stays there until max_age because it was never acked.
 */
export function deadLetterSource(stream: StreamSpec): string | undefined {
  for (const subject of stream.subjects) {
    if (!subject.startsWith(MAX_DELIVERIES_PREFIX)) continue;
    const source = subject.slice(MAX_DELIVERIES_PREFIX.length).split(".")[0];
    if (source && source !== "*" && source !== ">") return source;
  }
  return undefined;
}

/** Per user, the JetStream grants the catalog needs; users the catalog does not mention are absent. */
export function catalogGrants(catalog: Catalog, publications: readonly Publication[] = PUBLICATIONS): Map<UserName, Permissions> {
  const grants = new Map<UserName, Permissions>();
  const add = (user: UserName, publish: readonly string[]): void => {
    const more = grant({ publish });
    const current = grants.get(user);
    grants.set(user, current ? mergePermissions(current, more) : more);
  };
  for (const stream of catalog.streams) {
    for (const user of stream.publishers) add(user, publishSubjects(stream, user, publications));
  }
  for (const user of new Set(catalog.streams.flatMap((s) => s.publishers))) {
    const denyPublish = publishDenials(user, publications);
    if (denyPublish.length > 0) {
      const current = grants.get(user);
      const more = grant({ denyPublish });
      grants.set(user, current ? mergePermissions(current, more) : more);
    }
  }
  // Backups: snapshot and restore of the declared streams only (infra/users.ts BACKUP_SUBJECTS has the rest).
  for (const stream of catalog.streams) {
    add("fluo-backup", [`$JS.API.STREAM.SNAPSHOT.${stream.name}`, `$JS.API.STREAM.RESTORE.${stream.name}`]);
  }
  for (const consumer of catalog.consumers) {
    add(consumer.consumer, consumerSubjects(consumer));
    const stream = catalog.streams.find((s) => s.name === consumer.stream);
    const source = stream && deadLetterSource(stream);
    // MSG.GET fetches the failed job; $JS.API.INFO (account limits only) lets nats.js's default
    // jetstreamManager() start, which checks it before anything else.
    if (source) add(consumer.consumer, [`$JS.API.STREAM.MSG.GET.${source}`, "$JS.API.INFO"]);
  }
  return grants;
}
