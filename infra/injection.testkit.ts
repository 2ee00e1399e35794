// Test kit: reply-subject injection, measured the way issue 19 found it. An identity sends every request it may
// send with a stream subject as the reply, so the server (JetStream API answers, pull deliveries, publish acks)
// or a responder publishes the answer there; afterwards the stored count of every subject the identity may NOT
// publish must be unchanged. Everything is derived from the grants and the catalog, so a new consumer, stream or
// identity is probed without a hand edit here.

import { StringCodec, type JetStreamManager, type NatsConnection } from "nats";
import { subjectMatches, type Permissions } from "./permissions";
import { STREAM_ACCOUNT, type UserName } from "./users";
import type { NatsConfInput } from "./natsConfig";
import type { UserGrant } from "./userGrants";
import type { Catalog } from "../streams/spec";
import { PUBLICATIONS } from "../streams/catalog";

const sc = StringCodec();

/** What fills a wildcard: a name no stream, consumer or server has, so no request changes anything by itself. */
export const PROBE_TOKEN = "injected";

function concrete(pattern: string, fill = PROBE_TOKEN): string {
  return pattern
    .split(".")
    .map((t) => (t === "*" || t === ">" ? fill : t))
    .join(".");
}

/**
 * Every subject a stream stores: each publication (wildcards filled), and one subject per stream filter that no
 * publication names (`jobs.injected`, the dead-letter advisories).
 */
export function replyTargets(catalog: Catalog): string[] {
  const targets = new Set<string>();
  for (const p of PUBLICATIONS) targets.add(concrete(p.subject));
  for (const p of PUBLICATIONS) if (!p.subject.includes("*") && !p.subject.includes(">")) targets.add(p.subject);
  for (const s of catalog.streams) for (const subject of s.subjects) targets.add(concrete(subject));
  return [...targets].filter((t) => catalog.streams.some((s) => s.subjects.some((f) => subjectMatches(f, t)))).sort();
}

/** Whether the identity's own permissions let it publish `subject` (allow, and no deny). */
export function mayPublish(permissions: Permissions, subject: string): boolean {
  return permissions.publish.allow.some((p) => subjectMatches(p, subject)) && !permissions.publish.deny.some((p) => subjectMatches(p, subject));
}

export interface ProbeRequest {
  readonly subject: string;
  readonly payload: string;
}

/**
 * One concrete request per subject the identity may publish. Wildcards name nothing that exists (a stream
 * INJECTED, a consumer injected), so a management request is answered with an error and changes nothing; a pull
 * asks with no_wait so it never waits for (and takes) a later job; an ack names a delivery that never happened.
 */
export function probeRequests(permissions: Permissions): ProbeRequest[] {
  return permissions.publish.allow.map((pattern) => {
    if (pattern.startsWith("$JS.ACK.")) return { subject: concrete(pattern).replace(/\.injected$/, ".1.999999.999999.0.0"), payload: "+ACK" };
    if (pattern.startsWith("$SYS.REQ.SERVER.*.")) return { subject: pattern.replace("*", "PING"), payload: "" };
    if (pattern.startsWith("$SYS.REQ.ACCOUNT.")) return { subject: `$SYS.REQ.ACCOUNT.${STREAM_ACCOUNT}.CONNZ`, payload: "" };
    if (pattern.startsWith("$JS.API.CONSUMER.MSG.NEXT.")) return { subject: pattern, payload: JSON.stringify({ batch: 1, no_wait: true }) };
    if (pattern.startsWith("$JS.API.STREAM.MSG.GET.")) return { subject: pattern, payload: JSON.stringify({ seq: 1 }) };
    if (pattern.startsWith("$JS.API.")) return { subject: concrete(pattern, "INJECTED"), payload: "" };
    return { subject: concrete(pattern), payload: "{}" };
  });
}

const same = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/**
 * The counts once three reads in a row agree: an answer forwarded into a stream is stored after the stream's Raft
 * group commits it, a moment after the twin's answer came back.
 */
async function untilStable(counts: () => Promise<Map<string, number>>): Promise<Map<string, number>> {
  let last = await counts();
  for (let agreeing = 1, reads = 1; agreeing < 3; reads++) {
    if (reads > 200) throw new Error("stored counts kept changing over 200 reads: something else publishes into the streams");
    const next = await counts();
    agreeing = same(last, next) ? agreeing + 1 : 1;
    last = next;
  }
  return last;
}

/**
 * Stored messages per target subject. One literal filter per subject: with `subjects_filter: ">"` nats-server
 * 2.15.3 reported 2 messages on a JOBS subject that held 30 (the literal filter and the stream total agreed),
 * after pull deliveries were left unacked.
 */
export async function storedCounts(jsm: JetStreamManager, catalog: Catalog, targets: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const subject of targets) {
    const stream = catalog.streams.find((s) => s.subjects.some((f) => subjectMatches(f, subject)));
    if (!stream) continue;
    const info = await jsm.streams.info(stream.name, { subjects_filter: subject });
    counts.set(subject, info.state.subjects?.[subject] ?? 0);
  }
  return counts;
}

export interface InjectionResult {
  readonly user: UserName;
  /** Requests sent with a stream subject as reply. */
  readonly sent: number;
  /** Request subjects whose twin (the same request, reply in the identity's own inbox) was answered. */
  readonly answered: readonly string[];
  /** Messages stored, per subject, where the identity may not publish. */
  readonly storedOutsideRights: ReadonlyMap<string, number>;
  /** Messages stored at subjects it may publish anyway (an answer it could have published itself). */
  readonly storedInsideRights: number;
}

/**
 * Sends every probe request of `grant` with every target as reply, then each request once more into the
 * identity's own inbox and waits for that answer: the server answers one connection's requests of a kind in
 * order, so the twin's answer arrives after the aimed one was published (a twin that is never answered, such
 * as an ack of a delivery that never happened, shows that request kind has no answer to aim).
 */
export async function injectAll(options: {
  readonly nc: NatsConnection;
  readonly grant: UserGrant;
  readonly targets: readonly string[];
  readonly counts: () => Promise<Map<string, number>>;
  /** What to send; default: the requests `grant` may send. */
  readonly requests?: readonly ProbeRequest[];
}): Promise<InjectionResult> {
  const { nc, grant, targets } = options;
  const before = await options.counts();
  const requests = options.requests ?? probeRequests(grant.permissions);
  let sent = 0;
  const answered: string[] = [];
  for (const request of requests) {
    for (const reply of targets) {
      nc.publish(request.subject, sc.encode(request.payload), { reply });
      sent++;
    }
    try {
      await nc.request(request.subject, sc.encode(request.payload), { timeout: 3_000, noMux: true });
      answered.push(request.subject);
    } catch {
      // No responder (503), a timeout, or an error status: the kind has no answer to aim, or refused one.
    }
  }
  await nc.flush();
  const after = await untilStable(options.counts);
  const outside = new Map<string, number>();
  let inside = 0;
  for (const [subject, n] of after) {
    const added = n - (before.get(subject) ?? 0);
    if (added <= 0) continue;
    if (mayPublish(grant.permissions, subject)) inside += added;
    else outside.set(subject, added);
  }
  return { user: grant.spec.name, sent, answered, storedOutsideRights: outside, storedInsideRights: inside };
}

/**
 * The layout before issue 19, for the control: every identity's logins in the stream account, with the same
 * user permissions and no imports or exports (the system account's users stay in SYS).
 */
export function sharedAccountLayout(input: NatsConfInput): NatsConfInput {
  const identities = input.accounts.filter((a) => a.name !== STREAM_ACCOUNT && a.name !== input.systemAccount);
  const streams = input.accounts.find((a) => a.name === STREAM_ACCOUNT);
  if (!streams) throw new Error(`no ${STREAM_ACCOUNT} account in the rendered config`);
  return {
    ...input,
    accounts: [
      { name: STREAM_ACCOUNT, jetstream: true, users: identities.flatMap((a) => a.users) },
      ...input.accounts.filter((a) => a.name === input.systemAccount),
    ],
  };
}
