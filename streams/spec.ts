// Stream and consumer declarations as platform engineers write them: readable durations ("24h") and sizes
// ("512MiB"), JetStream enums in lower case, and the NATS users on either side. Validated once by zod; an error
// names the stream or consumer and the field (`streams.JOBS.maxAge`) and says what is allowed.

import { z } from "zod";
import { DURATION_HELP, parseDuration, parseSize, SIZE_HELP } from "../lib/units";
import { userSpecs, type UserName } from "../infra/users";

export interface StreamSpec {
  name: string;
  description?: string;
  subjects: string[];
  retention: "limits" | "interest" | "workqueue";
  storage: "file" | "memory";
  replicas: number;
  /** Oldest message kept, e.g. "24h"; "0" would mean unlimited (the policy forbids it). */
  maxAge: string;
  /** Bound on the stream's size, e.g. "512MiB". */
  maxBytes: string;
  maxMsgs?: number;
  maxMsgSize?: string;
  discard: "old" | "new";
  /** Default: min(2m, maxAge), as the server fills it. */
  duplicateWindow?: string;
  denyDelete?: boolean;
  denyPurge?: boolean;
  /** Users that publish to the stream's subjects: they get publish rights on exactly these subjects. */
  publishers: UserName[];
  /**
   * What a standby region keeps of it (docs/regions.md): "mirror", a mirror of the primary's stream (read-only
   * there; promoted into a stream of its own on failover); "none" (default), a stream of the standby's own.
   */
  replication?: "mirror" | "none";
  /** Set in a standby region for a mirrored stream: the primary's stream it copies, in the primary's domain. */
  mirror?: { name: string; domain: string };
}

export interface ConsumerSpec {
  stream: string;
  /** Durable name. */
  name: string;
  description?: string;
  filterSubject?: string;
  deliverPolicy: "all" | "new" | "last";
  ackPolicy: "explicit" | "none" | "all";
  /** With backoff set the server replaces ack_wait by backoff[0], so the two must agree. */
  ackWait: string;
  maxDeliver: number;
  /** Redelivery delays after the 1st, 2nd, ... delivery; fewer entries than maxDeliver. */
  backoff?: string[];
  maxAckPending?: number;
  /** The user that pulls from this consumer: it gets the pull and ack subjects of this consumer only. */
  consumer: UserName;
}

export interface Catalog {
  streams: StreamSpec[];
  consumers: ConsumerSpec[];
}

/** Every NATS user name, for validating publishers/consumer users. */
export const USER_NAMES: readonly UserName[] = userSpecs().map((u) => u.name);

const userName = z
  .string()
  .refine((v) => (USER_NAMES as readonly string[]).includes(v), { message: `must be one of ${USER_NAMES.join(", ")}` })
  .transform((v) => v as UserName);

// Stream and durable names end up as tokens of API subjects ($JS.API.STREAM.INFO.<name>): no dots, wildcards
// or whitespace.
const apiName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, '-' or '_'" });

const token = /^([^.*>\s]+|\*)$/;
/** A subject or subject pattern: dot-separated tokens, `*` for one token, `>` only as the last token. */
export function isSubjectPattern(subject: string): boolean {
  const tokens = subject.split(".");
  return tokens.every((t, i) => token.test(t) || (t === ">" && i === tokens.length - 1));
}
const subject = z.string().refine(isSubjectPattern, {
  message: 'must be a NATS subject such as "jobs.>" or "jobs.*.done" (no empty tokens, ">" only at the end)',
});

export const durationSchema = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, { message: `must be ${DURATION_HELP}` });
const positiveDuration = durationSchema.refine((v) => (parseDuration(v) ?? 0n) > 0n, { message: "must be above zero" });
export const sizeSchema = z.string().refine((v) => parseSize(v) !== undefined, { message: `must be ${SIZE_HELP}` });
const positiveSize = sizeSchema.refine((v) => (parseSize(v) ?? 0) > 0, { message: "must be above zero" });

export const streamSpecSchema = z
  .object({
    name: apiName,
    description: z.string().optional(),
    // At least one, except on a mirror, which the server fills from its origin and refuses subjects for.
    subjects: z.array(subject),
    retention: z.enum(["limits", "interest", "workqueue"]),
    storage: z.enum(["file", "memory"]),
    replicas: z.number().int().min(1).max(5, { message: "must be 1 to 5 (JetStream's limit)" }),
    maxAge: durationSchema,
    maxBytes: positiveSize,
    maxMsgs: z.number().int().positive().optional(),
    maxMsgSize: positiveSize.optional(),
    discard: z.enum(["old", "new"]),
    duplicateWindow: positiveDuration.optional(),
    denyDelete: z.boolean().optional(),
    denyPurge: z.boolean().optional(),
    publishers: z.array(userName),
    replication: z.enum(["mirror", "none"]).optional(),
    mirror: z.object({ name: apiName, domain: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/) }).strict().optional(),
  })
  .strict();

/** A stream without subjects must be a mirror, and a mirror has none. */
function mirrorRules(s: z.output<typeof streamSpecSchema>, ctx: z.RefinementCtx): void {
  if (s.mirror === undefined && s.subjects.length === 0) ctx.addIssue({ code: "custom", path: ["subjects"], message: "must list at least one subject" });
  if (s.mirror !== undefined && s.subjects.length > 0) ctx.addIssue({ code: "custom", path: ["subjects"], message: "must be empty on a mirror (the server copies its origin's subjects)" });
}
export const checkedStreamSpecSchema = streamSpecSchema.superRefine(mirrorRules);

export const consumerSpecSchema = z
  .object({
    stream: apiName,
    name: apiName,
    description: z.string().optional(),
    filterSubject: subject.optional(),
    deliverPolicy: z.enum(["all", "new", "last"]),
    ackPolicy: z.enum(["explicit", "none", "all"]),
    ackWait: positiveDuration,
    maxDeliver: z.number().int().min(1, { message: "must be at least 1 (a bounded number of deliveries)" }),
    backoff: z.array(positiveDuration).min(1, { message: "must list at least one delay, or be left out" }).optional(),
    maxAckPending: z.number().int().positive().optional(),
    consumer: userName,
  })
  .strict()
  .superRefine((c, ctx) => {
    // Verified on nats-server 2.9.10: with backoff the server stores ack_wait = backoff[0] and rejects
    // max_deliver <= len(backoff) (10116).
    if (c.backoff && parseDuration(c.backoff[0]) !== parseDuration(c.ackWait)) {
      ctx.addIssue({
        code: "custom",
        path: ["ackWait"],
        message: `must equal backoff[0] ("${c.backoff[0]}"): nats-server replaces ack_wait by the first backoff delay`,
      });
    }
    if (c.backoff && c.backoff.length >= c.maxDeliver) {
      ctx.addIssue({
        code: "custom",
        path: ["backoff"],
        message: `has ${c.backoff.length} delays but maxDeliver is ${c.maxDeliver}: nats-server needs fewer delays than deliveries`,
      });
    }
  });

export const catalogSchema = z
  .object({ streams: z.array(checkedStreamSpecSchema), consumers: z.array(consumerSpecSchema) })
  .strict();

/** Human path of a zod issue: array indexes replaced by the stream or `<stream>.<consumer>` they point at. */
export function issuePath(raw: unknown, path: readonly PropertyKey[]): string {
  const parts: string[] = [];
  let node: unknown = raw;
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    const child: unknown = node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === "number" && child !== null && typeof child === "object") {
      const entry = child as { name?: unknown; stream?: unknown };
      const name = typeof entry.name === "string" ? entry.name : `[${key}]`;
      parts.push(path[i - 1] === "consumers" && typeof entry.stream === "string" ? `${entry.stream}.${name}` : name);
    } else {
      parts.push(typeof key === "number" ? `[${key}]` : String(key));
    }
    node = child;
  }
  return parts.join(".");
}

export class CatalogError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stream catalog:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CatalogError";
  }
}

/** Structural rules zod cannot see per entry: unique names, consumers on declared streams. */
function crossEntryProblems(catalog: Catalog): string[] {
  const problems: string[] = [];
  const streams = new Set<string>();
  for (const s of catalog.streams) {
    if (streams.has(s.name)) problems.push(`streams.${s.name}: declared twice; stream names must be unique`);
    streams.add(s.name);
  }
  const consumers = new Set<string>();
  for (const c of catalog.consumers) {
    const id = `${c.stream}.${c.name}`;
    if (consumers.has(id)) problems.push(`consumers.${id}: declared twice; durable names must be unique per stream`);
    consumers.add(id);
    if (!streams.has(c.stream)) {
      problems.push(`consumers.${id}.stream: "${c.stream}" is not a declared stream (${[...streams].join(", ")})`);
    }
  }
  return problems;
}

/** Validates a catalog; throws CatalogError whose message names each bad field (`streams.JOBS.maxAge`). */
export function parseCatalog(raw: unknown): Catalog {
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CatalogError(parsed.error.issues.map((i) => `${issuePath(raw, i.path)}: ${i.message}`));
  }
  const catalog: Catalog = parsed.data;
  const problems = crossEntryProblems(catalog);
  if (problems.length > 0) throw new CatalogError(problems);
  return catalog;
}
