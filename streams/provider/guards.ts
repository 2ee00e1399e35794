// Nothing lost by accident: the checks the providers run before any change that can drop messages or leave a
// resource deleted and not re-created. A JetStream update or delete acts at once and cannot be undone, so each
// check runs in diff (preview shows the refusal) and again in the step that acts (`up`, where preview's unknown
// values are known). One opt-in covers every loss: the stream's name in `fluo-queue:allowDestroy`.

import type { ConsumerConfig, ConsumerInfo, JetStreamManager, StreamConfig, StreamInfo } from "nats";
import { fieldChanges, type Field, type FieldValues } from "../fields";
import { UNKNOWN, hasUnknown, type ProviderSettings } from "./settings";
import { apiErrorCode, withRetry } from "./client";
import { formatDuration } from "../../lib/units";

/** The refusal every guard ends with: what would be lost, and the one command that allows it for this stream. */
export function lossRefusal(settings: ProviderSettings, stream: string, what: string): Error {
  const index = settings.allowDestroy.length;
  return new Error(
    `refusing to ${what}. If losing them is intended, allow it for this stream and run again:\n` +
      `  pulumi config set --path 'fluo-queue:allowDestroy[${index}]' ${stream}\n` +
      `(and remove it from fluo-queue:allowDestroy afterwards).`,
  );
}

export const lossAllowed = (settings: ProviderSettings, stream: string): boolean => settings.allowDestroy.includes(stream);

/**
 * Changed and replace-forcing fields when some new values are not known yet (preview). Unknown means "may
 * change": an unknown value is a change, and a replace when the field can force one (a replace field, or an
 * update field whose replaceWhen holds for some value, e.g. denyDelete turning off).
 */
export function changesAllowingUnknowns<S>(
  table: readonly Field<S>[],
  olds: Readonly<Record<string, unknown>>,
  news: Readonly<Record<string, unknown>>,
): { changed: string[]; replaces: string[] } {
  const unknown = table.filter((f) => hasUnknown(news[f.key]));
  const known = { ...news };
  for (const f of unknown) known[f.key] = olds[f.key];
  const { changed, replaces } = fieldChanges(table, olds as FieldValues<S>, known as FieldValues<S>);
  for (const f of unknown) {
    changed.push(f.key);
    const before = safeApi(f, olds[f.key]);
    if (f.change === "replace" || f.replaceWhen?.(before, UNKNOWN)) replaces.push(f.key);
  }
  return { changed, replaces };
}

function safeApi<S>(f: Field<S>, value: unknown): unknown {
  try {
    return f.toApi(value as S[keyof S] | undefined);
  } catch {
    return value;
  }
}

// ---- lossy in-place updates (limits lowered below what the stream holds) ----------------------------------

export interface Loss {
  readonly field: string;
  /** Messages the update loses: dropped at once, or (maxAge) removed by the new limit within the window. */
  readonly messages: number;
  /** False for an estimate (bytes and ages are known for the stream, not per message). */
  readonly exact: boolean;
  /** The field's old and new value as the spec writes them, where the message shows them ("2h -> 2m"). */
  readonly change?: string;
  /** When they go, after the count ("within 1m58s of the update (the oldest, stored 2s ago, in 1m58s)"). */
  readonly when?: string;
}

const NANOS_PER_MS = 1_000_000;

/**
 * How long after an update the messages a lowered maxAge removes still count as lost by that update. The server
 * removes a message as soon as it is older than max_age, whenever that is: 7d -> 2m over 300 messages 90 s old
 * dropped none at once and all of them a minute later (issue 20), and nobody re-deploys or drains a backlog in
 * between. An hour covers a preview reviewed and applied and a consumer that is behind catching up; what the
 * new limit removes after it is the stream's retention doing what was declared.
 */
export const MAX_AGE_LOSS_WINDOW_MS = 3_600_000;

/** What a lowered max_age removes within the window that the old one would have kept past it. */
export interface AgeLoss {
  readonly messages: number;
  readonly exact: boolean;
  /** After the update: when the oldest of them goes (0: at once), and when the last of them has gone. */
  readonly firstGoneMs: number;
  readonly lastGoneMs: number;
  /** How long ago the oldest of them was stored. */
  readonly oldestAgeMs: number;
}

/** The part of stream state the age arithmetic reads (timestamps as the server's RFC 3339 text). */
export interface StoredSpan {
  readonly messages: number;
  readonly first_ts: string;
  readonly last_ts: string;
}

/**
 * Messages stored between `first_ts` and `last_ts` that max_age `newMs` removes within `windowMs` of `nowMs`
 * and max_age `oldMs` would have kept past it (0 = unlimited; undefined: none). A message stored at t goes at
 * t + max_age, so the lost ones are those with oldCut < t <= newCut, cut = now + window - max_age. Exact when the
 * whole span is inside or outside that range; otherwise messages are assumed evenly spread in time, because
 * counting per message would need read access to the data (MSG.GET, DIRECT.GET), which fluo-provisioner does
 * not have (docs/security.md). The decision itself is exact whenever the oldest or newest message is lost.
 */
export function maxAgeLoss(span: StoredSpan, oldMs: number, newMs: number, nowMs: number, windowMs: number = MAX_AGE_LOSS_WINDOW_MS): AgeLoss | undefined {
  if (span.messages === 0 || newMs <= 0 || (oldMs > 0 && newMs >= oldMs)) return undefined;
  const first = Date.parse(span.first_ts);
  const last = Date.parse(span.last_ts);
  const newCut = nowMs + windowMs - newMs;
  const oldCut = oldMs > 0 ? nowMs + windowMs - oldMs : -Infinity;
  if (first > newCut || last <= oldCut) return undefined;
  const from = Math.max(first, oldCut);
  const to = Math.min(last, newCut);
  const all = first > oldCut && last <= newCut;
  const share = all || last <= first ? 1 : (to - from) / (last - first);
  const messages = all ? span.messages : Math.max(1, Math.min(span.messages, Math.ceil(share * span.messages)));
  const goneAfter = (storedAt: number): number => Math.min(windowMs, Math.max(0, storedAt + newMs - nowMs));
  return { messages, exact: all, firstGoneMs: goneAfter(from), lastGoneMs: goneAfter(to), oldestAgeMs: Math.max(0, nowMs - from) };
}

/** A duration for an error line: whole seconds, in the spec's own notation ("1m58s", "7d"). */
export function readableMs(ms: number): string {
  return ms <= 0 ? "0s" : formatDuration(BigInt(Math.round(ms / 1000)) * 1_000_000_000n);
}

/** When the messages of an AgeLoss go: "at once (the oldest stored 3s ago)" or "within 1m58s of the update (...)". */
export function describeAgeLoss(loss: AgeLoss): string {
  const oldest = `stored ${readableMs(loss.oldestAgeMs)} ago`;
  if (loss.lastGoneMs <= 0) return `at once (the oldest ${oldest})`;
  const first = loss.firstGoneMs <= 0 ? "at once" : `in ${readableMs(loss.firstGoneMs)}`;
  return `within ${readableMs(loss.lastGoneMs)} of the update (the oldest, ${oldest}, ${first})`;
}

const maxAgeText = (nanos: number): string => (nanos > 0 ? formatDuration(nanos) : "unlimited");

/**
 * Messages an in-place update to `next` would lose from the stream `info` describes. The server applies a
 * lowered max_msgs / max_bytes at once (NOTES.md: 2 GiB -> 64 KiB dropped 139 of 200 messages), and a lowered
 * max_age from then on: what it removes within `windowMs` counts (MAX_AGE_LOSS_WINDOW_MS). max_msgs is exact;
 * max_bytes and max_age are estimated from the stream's totals and first/last timestamps (maxAgeLoss).
 */
export function updateLosses(info: StreamInfo, next: StreamConfig, nowMs: number = Date.now(), windowMs: number = MAX_AGE_LOSS_WINDOW_MS): Loss[] {
  const { messages, bytes } = info.state;
  if (messages === 0) return [];
  const losses: Loss[] = [];
  const maxMsgs = next.max_msgs ?? -1;
  if (maxMsgs >= 0 && maxMsgs < messages) losses.push({ field: "maxMsgs", messages: messages - maxMsgs, exact: true });
  const maxBytes = next.max_bytes ?? -1;
  if (maxBytes >= 0 && maxBytes < bytes) {
    const perMessage = bytes / messages;
    losses.push({ field: "maxBytes", messages: Math.min(messages, Math.ceil((bytes - maxBytes) / perMessage)), exact: false });
  }
  const [oldAge, newAge] = [Number(info.config.max_age ?? 0), Number(next.max_age ?? 0)];
  const aged = maxAgeLoss(info.state, oldAge / NANOS_PER_MS, newAge / NANOS_PER_MS, nowMs, windowMs);
  if (aged) {
    losses.push({ field: "maxAge", messages: aged.messages, exact: aged.exact, change: `${maxAgeText(oldAge)} -> ${maxAgeText(newAge)}`, when: describeAgeLoss(aged) });
  }
  return losses;
}

/**
 * Messages a limits -> interest switch drops at once: those at or below the lowest ack floor of the stream's
 * consumers (stream.go checkInterestState compacts to it), and every message when it has no consumer (seen on
 * 2.15.3: 4 of 4 gone; nobody is interested in them).
 */
export function interestSwitchLoss(info: StreamInfo, consumers: readonly ConsumerInfo[]): number {
  if (info.state.messages === 0) return 0;
  if (consumers.length === 0) return info.state.messages;
  const floor = Math.min(...consumers.map((c) => c.ack_floor.stream_seq));
  return Math.max(0, Math.min(info.state.messages, floor - info.state.first_seq + 1));
}

export function describeLosses(losses: readonly Loss[], held: number): string {
  return losses
    .map((l) => `${l.field}${l.change ? ` ${l.change}` : ""} would drop ${l.exact ? "" : "about "}${l.messages} of its ${held} message(s)${l.when ? ` ${l.when}` : ""}`)
    .join(", ");
}

// ---- consumers that a retention does not allow ------------------------------------------------------------

/** Whether two subject filters can match a common subject ("" = the whole stream). */
export function filtersOverlap(a: string, b: string): boolean {
  if (a === "" || b === "") return true;
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === ">" || y[i] === ">") return x[i] !== undefined && y[i] !== undefined;
    if (x[i] === undefined || y[i] === undefined) return false;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
  return true;
}

export interface ConsumerShape {
  readonly name: string;
  readonly ackPolicy: string;
  readonly deliverPolicy: string;
  readonly filterSubject: string;
}

export const consumerShape = (c: ConsumerConfig, fallbackName = ""): ConsumerShape => ({
  name: c.durable_name ?? c.name ?? fallbackName,
  ackPolicy: String(c.ack_policy ?? "none"),
  deliverPolicy: String(c.deliver_policy ?? "all"),
  filterSubject: c.filter_subject ?? "",
});

/**
 * Why these consumers cannot exist together on a workqueue stream, one line each (empty: they can). The server
 * rules (nats-server stream.go / consumer.go): explicit ack (10098), deliver all (10101), and no two consumers
 * whose filters overlap (10099/10100; 2.9 let partly overlapping wildcards through, so this checks itself).
 */
export function workqueueProblems(consumers: readonly ConsumerShape[]): string[] {
  const problems: string[] = [];
  for (const c of consumers) {
    if (c.ackPolicy !== "explicit") problems.push(`consumer ${c.name}: ack policy ${c.ackPolicy}, a workqueue stream needs explicit acks (JetStream error 10098)`);
    if (c.deliverPolicy !== "all") problems.push(`consumer ${c.name}: deliver policy ${c.deliverPolicy}, a workqueue stream needs deliver all (JetStream error 10101)`);
  }
  for (let i = 0; i < consumers.length; i++) {
    for (let j = i + 1; j < consumers.length; j++) {
      const [a, b] = [consumers[i], consumers[j]];
      if (filtersOverlap(a.filterSubject, b.filterSubject)) {
        problems.push(`consumers ${a.name} and ${b.name}: filters "${a.filterSubject || ">"}" and "${b.filterSubject || ">"}" overlap, a workqueue stream allows one consumer per subject (JetStream error 10100)`);
      }
    }
  }
  return problems;
}

/** Messages a consumer holds for its stream: not yet delivered, or delivered and not acked. */
export const heldByConsumer = (info: ConsumerInfo): number => info.num_pending + info.num_ack_pending;

// ---- can the replacement be created? ----------------------------------------------------------------------

// JetStream errors that mean "no room or no peers for this stream" (nats-server errors.json).
const CAPACITY_CODES: readonly number[] = [10023, 10028, 10047, 10005, 10074, 10122];

const reservation = (c: StreamConfig): number | undefined =>
  (c.max_bytes ?? -1) >= 0 ? (c.max_bytes as number) * Math.max(1, c.num_replicas ?? 1) : undefined;

/**
 * Proves that `next` can be created once the live stream is gone, by creating it under a throw-away name on
 * subjects nobody publishes to and deleting it again: the server's own placement (peers for the replicas) and
 * storage checks decide, against the live servers' limits and usage. A capacity refusal while the old stream
 * still holds its reservation in the same store still passes when the new reservation is no larger.
 * Returns undefined when it can be created, else the server's reason.
 */
export async function replacementProblem(jsm: JetStreamManager, live: StreamInfo, next: StreamConfig): Promise<string | undefined> {
  const probeName = `FLUO_PROBE_${live.config.name}_${Math.random().toString(36).slice(2, 10)}`.slice(0, 60);
  const probe: StreamConfig = { ...next, name: probeName, subjects: [`_fluo_probe.${probeName}`] };
  try {
    await withRetry(`probe creating the replacement of stream ${live.config.name}`, () => jsm.streams.add(probe));
  } catch (err) {
    const code = apiErrorCode(err);
    const reason = err instanceof Error ? err.message : String(err);
    if (code === undefined || !CAPACITY_CODES.includes(code)) return reason;
    const before = reservation(live.config);
    const after = reservation(next);
    const freedByDelete = live.config.storage === next.storage && before !== undefined && after !== undefined && after <= before;
    return freedByDelete ? undefined : reason;
  }
  await withRetry(`delete probe stream ${probeName}`, () => jsm.streams.delete(probeName));
  return undefined;
}
