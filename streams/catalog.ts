// The FLUO stream catalog: every stream and durable consumer, with the users on either side. Sizes here are the
// production ones; a stack shrinks them with `fluo-queue:streamOverrides` (Pulumi.dev.yaml does).
//
// Signal status flow (ADR-007 "Real-time Events"): a worker that finishes a job publishes `signals.created` or
// `signals.status.<state>`; the backend publishes `signals.status.resolved` when a user resolves a signal
// through the BFF's RPC. SIGNALS (interest retention) keeps each message until both durable consumers acked it:
// `backend-status` (the backend persists the status) and `bff-updates` (the BFF pushes it to browsers). The
// consumers are declared here, so they exist before any producer publishes: an interest stream drops what is
// published while no consumer exists.

import { z } from "zod";
import { PROJECT, type StackConfig } from "../infra/stackConfig";
import type { UserName } from "../infra/users";
import { durationSchema, issuePath, parseCatalog, sizeSchema, type Catalog, type StreamSpec } from "./spec";

/** The job types the workers run; each has its own subject and durable consumer on JOBS. */
export const JOB_SUBJECTS = ["jobs.trace_analysis", "jobs.rule_validation", "jobs.data_export"] as const;

/** Where JetStream reports a JOBS message that used up max_deliver (server advisory, one per message). */
export const JOBS_MAX_DELIVERIES_ADVISORIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.>";

/**
 * What the applications publish (ADR-007 subject hierarchy), for the policy: each must land in a stream that
 * names its publisher. `*` stands for ids and states.
 */
export const PUBLICATIONS: readonly Publication[] = [
  ...JOB_SUBJECTS.map((subject) => ({ subject, publisher: "fluo-bff" as const })),
  { subject: "signals.created", publisher: "fluo-workers" },
  { subject: "signals.status.*", publisher: "fluo-workers" },
  { subject: "signals.status.resolved", publisher: "fluo-backend" },
  { subject: "events.user.*", publisher: "fluo-bff" },
  { subject: "events.system.*", publisher: "fluo-backend" },
  { subject: "events.system.*", publisher: "fluo-workers" },
];

export interface Publication {
  readonly subject: string;
  readonly publisher: UserName;
}

export const BASE_CATALOG: Catalog = {
  streams: [
    {
      name: "JOBS",
      description: "Work queue of FLUO jobs; one durable pull consumer per job type",
      subjects: ["jobs.>"],
      retention: "workqueue",
      storage: "file",
      replicas: 3,
      maxAge: "24h",
      maxBytes: "2GiB",
      maxMsgSize: "1MiB",
      discard: "old",
      // The BFF sets a Nats-Msg-Id per submission, so a retried submit within 2m is not queued twice.
      duplicateWindow: "2m",
      publishers: ["fluo-bff"],
    },
    {
      name: "SIGNALS",
      description: "Signal creation and status changes, kept until the backend and the BFF both acked them",
      subjects: ["signals.>"],
      retention: "interest",
      storage: "file",
      replicas: 3,
      maxAge: "7d",
      maxBytes: "1GiB",
      maxMsgSize: "256KiB",
      discard: "old",
      publishers: ["fluo-workers", "fluo-backend"],
    },
    {
      name: "EVENTS",
      description: "Audit and replay log of user and system events (limits retention: reading does not remove)",
      subjects: ["events.>"],
      retention: "limits",
      storage: "file",
      replicas: 3,
      maxAge: "30d",
      maxBytes: "4GiB",
      maxMsgSize: "256KiB",
      discard: "old",
      denyDelete: true,
      publishers: ["fluo-bff", "fluo-backend", "fluo-workers"],
      // The audit log must survive the loss of a region.
      replication: "mirror",
    },
    {
      name: "DEADLETTER",
      description: "Max-deliveries advisories of JOBS consumers: which job (stream_seq) failed, on which consumer",
      subjects: [JOBS_MAX_DELIVERIES_ADVISORIES],
      retention: "limits",
      storage: "file",
      replicas: 3,
      maxAge: "90d",
      maxBytes: "256MiB",
      discard: "old",
      denyDelete: true,
      // Only the server publishes advisories.
      publishers: [],
      // Which jobs failed, kept with the audit log: the standby can still answer "what failed" after a failover.
      replication: "mirror",
    },
  ],
  consumers: [
    // ack_wait is how long one attempt may run before JetStream redelivers (workers send in-progress acks for
    // longer runs); later attempts wait longer (backoff), and after max_deliver the advisory goes to DEADLETTER.
    {
      stream: "JOBS",
      name: "trace-analysis",
      description: "Trace analysis jobs (minutes of CPU per trace)",
      filterSubject: "jobs.trace_analysis",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "5m",
      maxDeliver: 4,
      backoff: ["5m", "10m", "20m"],
      maxAckPending: 100,
      consumer: "fluo-workers",
    },
    {
      stream: "JOBS",
      name: "rule-validation",
      description: "Rule validation jobs (seconds each)",
      filterSubject: "jobs.rule_validation",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "1m",
      maxDeliver: 5,
      backoff: ["1m", "2m", "5m", "10m"],
      maxAckPending: 500,
      consumer: "fluo-workers",
    },
    {
      stream: "JOBS",
      name: "data-export",
      description: "Data export jobs (long-running, I/O bound)",
      filterSubject: "jobs.data_export",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "15m",
      maxDeliver: 3,
      backoff: ["15m", "30m"],
      maxAckPending: 20,
      consumer: "fluo-workers",
    },
    {
      stream: "SIGNALS",
      name: "backend-status",
      description: "Backend persists every signal creation and status change",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "30s",
      maxDeliver: 10,
      backoff: ["30s", "1m", "2m", "5m"],
      consumer: "fluo-backend",
    },
    {
      stream: "SIGNALS",
      name: "bff-updates",
      description: "BFF pushes signal status changes to connected browsers",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "10s",
      maxDeliver: 5,
      consumer: "fluo-bff",
    },
    {
      stream: "EVENTS",
      name: "audit-replay",
      description: "Backend reads the event log for audit reports and replays",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "1m",
      maxDeliver: 5,
      consumer: "fluo-backend",
    },
    {
      stream: "DEADLETTER",
      name: "inspect",
      description: "Backend lists failed jobs and fetches them from JOBS by stream_seq",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "1m",
      maxDeliver: 5,
      consumer: "fluo-backend",
    },
  ],
};

/** Stream fields a stack may override: limits only, never identity, retention or storage. */
export const streamOverrideSchema = z
  .object({
    maxAge: durationSchema,
    maxBytes: sizeSchema,
    maxMsgs: z.number().int().positive(),
    maxMsgSize: sizeSchema,
    duplicateWindow: durationSchema,
    replicas: z.number().int().min(1).max(5, { message: "must be 1 to 5 (JetStream's limit)" }),
  })
  .partial()
  .strict();

export type StreamOverride = z.output<typeof streamOverrideSchema>;

/** Thrown for a bad `fluo-queue:streamOverrides` value; the message names the key. */
export class StreamOverrideError extends Error {
  constructor(readonly problems: readonly string[]) {
    // One problem is one line; several are one line each under a header.
    super(problems.length === 1 ? `invalid stack config: ${problems[0]}` : `invalid stack config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "StreamOverrideError";
  }
}

const KEY = `${PROJECT}:streamOverrides`;

// Pulumi hands structured config to the program as JSON text.
function overridesValue(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Validates the overrides against the catalog's stream names; throws StreamOverrideError naming the key. */
export function parseStreamOverrides(raw: unknown, catalog: Catalog = BASE_CATALOG): Record<string, StreamOverride> {
  const value = overridesValue(raw ?? {});
  const names = catalog.streams.map((s) => s.name);
  const problems: string[] = [];
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new StreamOverrideError([`${KEY}: must be a map of stream name to limits, e.g. { "JOBS": { "maxBytes": "256MiB" } }`]);
  }
  const out: Record<string, StreamOverride> = {};
  for (const [stream, override] of Object.entries(value)) {
    if (!names.includes(stream)) {
      problems.push(`${KEY}.${stream}: not a stream of the catalog (${names.join(", ")})`);
      continue;
    }
    const parsed = streamOverrideSchema.safeParse(override);
    if (parsed.success) out[stream] = parsed.data;
    else {
      for (const i of parsed.error.issues) {
        // The value as written, so the line says what to change ("huge"), not only where.
        const value = i.path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), override);
        const shown = i.path.length > 0 && value !== undefined ? ` = ${JSON.stringify(value)}` : "";
        problems.push(`${KEY}.${stream}${i.path.length ? "." : ""}${issuePath(override, i.path)}${shown}: ${i.message}`);
      }
    }
  }
  if (problems.length > 0) throw new StreamOverrideError(problems);
  return out;
}

/** The catalog with the overrides applied (still to be checked by the policy). */
export function applyOverrides(catalog: Catalog, overrides: Readonly<Record<string, StreamOverride>>): Catalog {
  const streams = catalog.streams.map((s): StreamSpec => ({ ...s, ...(overrides[s.name] ?? {}) }));
  return parseCatalog({ streams, consumers: catalog.consumers });
}

/** The catalog of one stack: the base catalog with `fluo-queue:streamOverrides`, validated. */
export function catalogForStack(config: Pick<StackConfig, "streamOverrides">): Catalog {
  return applyOverrides(BASE_CATALOG, parseStreamOverrides(config.streamOverrides));
}

/**
 * The catalog as one region deploys it. A primary (or a single region) deploys it as declared. A standby keeps
 * each stream with `replication: "mirror"` as a mirror of the primary's: no subjects (the server fills them from
 * the origin) and no publishers, so nothing publishes into it and no identity gets publish rights there until
 * the region is promoted, which is this function returning the declared stream again: the mirror goes and the
 * subjects come back, an update in place that keeps every message (docs/regions.md "Failover").
 *
 * JOBS and SIGNALS are not mirrored, on purpose: a mirror of a work queue is not a work queue (the origin deletes a
 * job when a worker acks it, a mirror keeps it, so a promoted mirror would hand out jobs already done), and a
 * signal status is state the backend persists. The standby has empty streams of its own for them.
 */
export function regionalCatalog(catalog: Catalog, config: Pick<StackConfig, "region" | "regionRole" | "peerRegion">): Catalog {
  if (config.region === undefined || config.regionRole !== "standby" || config.peerRegion === undefined) return catalog;
  const domain = config.peerRegion;
  return {
    ...catalog,
    streams: catalog.streams.map((s) => (s.replication === "mirror" ? { ...s, subjects: [], publishers: [], mirror: { name: s.name, domain } } : s)),
  };
}

/** Every subject the streams capture, as declared: what must never cross the link between regions. */
export function dataSubjects(catalog: Catalog): string[] {
  return [...new Set(catalog.streams.flatMap((s) => s.subjects))].sort();
}
