// What the alert rules and the dashboard watch, and the thresholds they watch it against. The stream catalog
// (streams/) and the stack config are the sources of these values; this module only defines their shape, the
// defaults the ADR gives, and the checks that keep a bad threshold from rendering a rule that can never fire.

import type { StackConfig } from "../infra/stackConfig";
import { parseSize } from "../lib/units";
import type { Catalog } from "../streams/spec";
import { deadLetterSource } from "../streams/permissions";

export interface StreamTarget {
  readonly name: string;
  /** Configured max_bytes of the stream; 0 or -1 = unlimited (no near-limit rule). */
  readonly maxBytes: number;
  /** Configured max_msgs of the stream; 0 or -1 = unlimited (no near-limit rule). */
  readonly maxMsgs: number;
  /** Fraction of max_bytes / max_msgs that fires NatsStreamNearLimit (default 0.9). */
  readonly nearLimitRatio?: number;
}

export interface ConsumerTarget {
  readonly stream: string;
  readonly name: string;
  /** Undelivered messages (num_pending) tolerated for 5 minutes (ADR-007: 1000). */
  readonly pendingThreshold: number;
  /** Delivered-but-unacked messages tolerated for 10 minutes (keep it below the consumer's max_ack_pending). */
  readonly ackPendingThreshold: number;
  /** The consumer's max_deliver: after that many attempts a message is a dead letter (-1 = unlimited). */
  readonly maxDeliver: number;
  /** Redelivered-and-unacked messages that, while still rising, mean poison jobs (default 10). */
  readonly redeliveredThreshold?: number;
}

/** Server-wide thresholds; the ratios are fractions of the limits the server reports. */
export interface ServerThresholds {
  readonly storageWarningRatio: number;
  readonly storageCriticalRatio: number;
  /** JetStream API errors per 5 minutes on one server before it is a problem (clients probing for streams that
   * do not exist yet, e.g. the provisioner's adopt-on-create, cause a few legitimately). */
  readonly apiErrorsPer5m: number;
  /** Server (re)starts within 30 minutes that count as "restarting repeatedly". */
  readonly restartsPer30m: number;
}

export interface AlertTargets {
  readonly streams: readonly StreamTarget[];
  readonly consumers: readonly ConsumerTarget[];
  /** The stream that receives messages which exhausted max_deliver; any new message there fires an alert. */
  readonly deadLetterStream: string;
  /** Number of NATS servers (StatefulSet replicas). */
  readonly clusterSize: number;
  /** Configured JetStream limits per server in bytes; 0 = that store is disabled (no usage rule). */
  readonly maxFileStore: number;
  readonly maxMemoryStore: number;
  readonly server: ServerThresholds;
}

export const DEFAULT_SERVER_THRESHOLDS: ServerThresholds = {
  storageWarningRatio: 0.8,
  storageCriticalRatio: 0.9,
  apiErrorsPer5m: 10,
  restartsPer30m: 2,
};

export const DEFAULT_NEAR_LIMIT_RATIO = 0.9;
export const DEFAULT_REDELIVERED_THRESHOLD = 10;
/** ADR-007's consumer lag threshold. */
export const DEFAULT_PENDING_THRESHOLD = 1000;

/** Share of a consumer's max_ack_pending that is "high": the consumer is close to stalling its deliveries. */
export const ACK_PENDING_RATIO = 0.8;
/** The server's max_ack_pending when a consumer does not set one. */
const SERVER_MAX_ACK_PENDING = 1000;

/**
 * The targets of one stack: every stream and consumer of its catalog (overrides applied) with its own limits,
 * the dead-letter stream the catalog declares, and the cluster shape and store limits of the stack config.
 */
export function alertTargetsFromCatalog(config: StackConfig, catalog: Catalog): AlertTargets {
  const deadLetter = catalog.streams.find((s) => deadLetterSource(s) !== undefined);
  if (!deadLetter) throw new Error("the stream catalog declares no dead-letter stream (one capturing MAX_DELIVERIES advisories)");
  return {
    streams: catalog.streams.map((s) => ({ name: s.name, maxBytes: parseSize(s.maxBytes) ?? -1, maxMsgs: s.maxMsgs ?? -1 })),
    consumers: catalog.consumers.map((c) => ({
      stream: c.stream,
      name: c.name,
      pendingThreshold: DEFAULT_PENDING_THRESHOLD,
      ackPendingThreshold: Math.max(1, Math.floor((c.maxAckPending ?? SERVER_MAX_ACK_PENDING) * ACK_PENDING_RATIO)),
      maxDeliver: c.maxDeliver,
    })),
    deadLetterStream: deadLetter.name,
    clusterSize: config.replicas,
    maxFileStore: config.bytes.maxFileStore,
    maxMemoryStore: config.bytes.maxMemoryStore,
    server: DEFAULT_SERVER_THRESHOLDS,
  };
}

/** Every problem with the targets, each naming the stream/consumer; empty when they are usable. */
export function targetProblems(targets: AlertTargets): string[] {
  const problems: string[] = [];
  const ratio = (what: string, r: number) => {
    if (!(r > 0 && r <= 1)) problems.push(`${what}: ratio ${r} must be in (0, 1]`);
  };
  const streamNames = new Set<string>();
  for (const s of targets.streams) {
    if (streamNames.has(s.name)) problems.push(`stream ${s.name}: listed twice`);
    streamNames.add(s.name);
    ratio(`stream ${s.name} nearLimitRatio`, s.nearLimitRatio ?? DEFAULT_NEAR_LIMIT_RATIO);
  }
  const consumerKeys = new Set<string>();
  for (const c of targets.consumers) {
    const key = `${c.stream}/${c.name}`;
    if (consumerKeys.has(key)) problems.push(`consumer ${key}: listed twice`);
    consumerKeys.add(key);
    if (!streamNames.has(c.stream)) problems.push(`consumer ${key}: stream ${c.stream} is not among the streams`);
    for (const [field, value] of [
      ["pendingThreshold", c.pendingThreshold],
      ["ackPendingThreshold", c.ackPendingThreshold],
      ["redeliveredThreshold", c.redeliveredThreshold ?? DEFAULT_REDELIVERED_THRESHOLD],
    ] as const) {
      if (!(Number.isInteger(value) && value > 0)) problems.push(`consumer ${key}: ${field} ${value} must be a positive integer`);
    }
  }
  if (!streamNames.has(targets.deadLetterStream)) {
    problems.push(`deadLetterStream ${targets.deadLetterStream}: not among the streams`);
  }
  if (![1, 3, 5].includes(targets.clusterSize)) problems.push(`clusterSize ${targets.clusterSize}: must be 1, 3 or 5`);
  ratio("server storageWarningRatio", targets.server.storageWarningRatio);
  ratio("server storageCriticalRatio", targets.server.storageCriticalRatio);
  if (targets.server.storageWarningRatio >= targets.server.storageCriticalRatio) {
    problems.push("server storageWarningRatio must be below storageCriticalRatio");
  }
  for (const field of ["apiErrorsPer5m", "restartsPer30m"] as const) {
    const v = targets.server[field];
    if (!(Number.isInteger(v) && v > 0)) problems.push(`server ${field} ${v} must be a positive integer`);
  }
  return problems;
}

/** Throws listing every problem; the renderers call it so a bad catalog mapping fails before anything renders. */
export function assertValidTargets(targets: AlertTargets): void {
  const problems = targetProblems(targets);
  if (problems.length > 0) throw new Error(`Invalid alert targets:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
}
