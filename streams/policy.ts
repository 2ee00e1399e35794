// Stream policy: rules over the whole catalog and the cluster it runs on, checked before `pulumi up` registers
// anything: each rule encodes a server rule the server would only report halfway through an apply, or a FLUO
// decision; each violation says what to change.

import { subjectMatches, subjectsOverlap } from "../infra/permissions";
import type { AppUser } from "../infra/users";
import type { StackConfig } from "../infra/stackConfig";
import { formatSize, parseDuration, parseSize } from "../lib/units";
import { PUBLICATIONS, type Publication } from "./catalog";
import { defaultDuplicateWindow } from "./fields";
import type { Catalog, ConsumerSpec } from "./spec";

export const RULES = {
  "subjects-disjoint": "Subjects of different streams do not overlap (the server refuses the second stream, 10065).",
  "consumer-stream-exists": "Every consumer belongs to a declared stream.",
  "workqueue-explicit-ack": "Consumers of a WorkQueue stream use explicit ack (10098).",
  "workqueue-deliver-all": "Consumers of a WorkQueue stream deliver all (10101).",
  "workqueue-one-unfiltered": "A WorkQueue stream has at most one unfiltered consumer (10099).",
  "workqueue-filters-disjoint": "Filters of a WorkQueue stream's consumers are pairwise disjoint, wildcards included (10100; 2.9 lets some wildcard overlaps through).",
  "interest-has-consumer": "An Interest stream has at least one durable consumer (else every message is dropped on arrival).",
  "replicas-cluster-size": "Stream replicas do not exceed the number of servers (10005).",
  "replicas-prod": "In prod every stream has 3 replicas (survives a node loss).",
  "limits-set": "Every stream bounds max_age and max_bytes.",
  "file-capacity": "Sum of max_bytes x replicas over file streams fits max_file_store x servers; each stream fits one server.",
  "memory-capacity": "Sum of max_bytes x replicas over memory streams fits max_memory_store x servers; each stream fits one server.",
  "duplicate-window": "duplicate_window does not exceed max_age (10052).",
  "backoff-max-deliver": "A consumer has fewer backoff delays than max_deliver (10116: max_deliver must be > len(backoff)).",
  "published-subject-captured": "Every subject the applications publish lands in a stream that names the publisher.",
  "consumer-filter-in-stream": "A consumer's filter lies inside its stream's subjects.",
  "users-known": "Publishers and consumer users are application users (fluo-bff, fluo-backend, fluo-workers).",
} as const;

export type RuleId = keyof typeof RULES;

export interface Violation {
  readonly rule: RuleId;
  readonly stream?: string;
  readonly consumer?: string;
  /** What is wrong and what to change. */
  readonly message: string;
}

export type PolicyConfig = Pick<StackConfig, "environment" | "replicas" | "bytes">;

const APP_USERS: readonly AppUser[] = ["fluo-bff", "fluo-backend", "fluo-workers"];

const where = (c: ConsumerSpec): string => `consumer ${c.stream}/${c.name}`;
const ns = (text: string | undefined): bigint => (text === undefined ? 0n : (parseDuration(text) ?? 0n));
const size = (text: string | undefined): number => (text === undefined ? 0 : (parseSize(text) ?? 0));
const inside = (patterns: readonly string[], subject: string): boolean => patterns.some((p) => subjectMatches(p, subject));

function pairs<T>(items: readonly T[]): Array<[T, T]> {
  const out: Array<[T, T]> = [];
  for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) out.push([items[i], items[j]]);
  return out;
}

function subjectRules(catalog: Catalog): Violation[] {
  const out: Violation[] = [];
  for (const [a, b] of pairs(catalog.streams)) {
    for (const x of a.subjects) {
      for (const y of b.subjects) {
        if (subjectsOverlap(x, y)) {
          out.push({
            rule: "subjects-disjoint",
            stream: b.name,
            message: `stream ${b.name} subject "${y}" overlaps "${x}" of stream ${a.name}; narrow one of them so no subject matches both`,
          });
        }
      }
    }
  }
  return out;
}

function consumerRules(catalog: Catalog): Violation[] {
  const out: Violation[] = [];
  for (const c of catalog.consumers) {
    const stream = catalog.streams.find((s) => s.name === c.stream);
    if (!stream) {
      out.push({
        rule: "consumer-stream-exists",
        stream: c.stream,
        consumer: c.name,
        message: `${where(c)}: stream "${c.stream}" is not declared; declare it or move the consumer to one of ${catalog.streams.map((s) => s.name).join(", ")}`,
      });
      continue;
    }
    if (c.filterSubject !== undefined && !inside(stream.subjects, c.filterSubject)) {
      out.push({
        rule: "consumer-filter-in-stream",
        stream: c.stream,
        consumer: c.name,
        message: `${where(c)}: filter "${c.filterSubject}" is not inside the stream's subjects ${JSON.stringify(stream.subjects)}; it would never match`,
      });
    }
    if ((c.backoff?.length ?? 0) >= c.maxDeliver) {
      out.push({
        rule: "backoff-max-deliver",
        stream: c.stream,
        consumer: c.name,
        message: `${where(c)}: ${c.backoff?.length} backoff delays need maxDeliver of at least ${(c.backoff?.length ?? 0) + 1} (now ${c.maxDeliver}); raise maxDeliver or drop delays`,
      });
    }
  }
  return out;
}

function workQueueRules(catalog: Catalog): Violation[] {
  const out: Violation[] = [];
  for (const stream of catalog.streams.filter((s) => s.retention === "workqueue")) {
    const consumers = catalog.consumers.filter((c) => c.stream === stream.name);
    for (const c of consumers) {
      if (c.ackPolicy !== "explicit") {
        out.push({ rule: "workqueue-explicit-ack", stream: stream.name, consumer: c.name, message: `${where(c)}: ackPolicy "${c.ackPolicy}" on a WorkQueue stream; set ackPolicy "explicit"` });
      }
      if (c.deliverPolicy !== "all") {
        out.push({ rule: "workqueue-deliver-all", stream: stream.name, consumer: c.name, message: `${where(c)}: deliverPolicy "${c.deliverPolicy}" on a WorkQueue stream; set deliverPolicy "all"` });
      }
    }
    const unfiltered = consumers.filter((c) => c.filterSubject === undefined);
    if (unfiltered.length > 1) {
      out.push({
        rule: "workqueue-one-unfiltered",
        stream: stream.name,
        message: `stream ${stream.name}: consumers ${unfiltered.map((c) => c.name).join(", ")} have no filterSubject; a WorkQueue stream allows one unfiltered consumer, give the others disjoint filters`,
      });
    }
    for (const [a, b] of pairs(consumers)) {
      if (a.filterSubject === undefined && b.filterSubject === undefined) continue; // reported above
      const fa = a.filterSubject ?? ">";
      const fb = b.filterSubject ?? ">";
      if (subjectsOverlap(fa, fb)) {
        out.push({
          rule: "workqueue-filters-disjoint",
          stream: stream.name,
          consumer: b.name,
          message: `stream ${stream.name}: filters of ${a.name} ("${a.filterSubject ?? "(none)"}") and ${b.name} ("${b.filterSubject ?? "(none)"}") overlap; on a WorkQueue stream each message must go to one consumer, make the filters disjoint`,
        });
      }
    }
  }
  return out;
}

function interestRules(catalog: Catalog): Violation[] {
  return catalog.streams
    .filter((s) => s.retention === "interest" && !catalog.consumers.some((c) => c.stream === s.name))
    .map((s) => ({
      rule: "interest-has-consumer" as const,
      stream: s.name,
      message: `stream ${s.name}: Interest retention without a durable consumer drops every message on arrival; declare its consumers in the catalog`,
    }));
}

function replicaRules(catalog: Catalog, config: PolicyConfig): Violation[] {
  const out: Violation[] = [];
  for (const s of catalog.streams) {
    if (s.replicas > config.replicas) {
      out.push({ rule: "replicas-cluster-size", stream: s.name, message: `stream ${s.name}: replicas ${s.replicas} but the cluster has ${config.replicas} servers; set replicas to at most ${config.replicas}` });
    }
    if (config.environment === "prod" && s.replicas !== 3) {
      out.push({ rule: "replicas-prod", stream: s.name, message: `stream ${s.name}: replicas ${s.replicas} in prod; set replicas to 3` });
    }
  }
  return out;
}

function limitRules(catalog: Catalog): Violation[] {
  const out: Violation[] = [];
  for (const s of catalog.streams) {
    if (ns(s.maxAge) <= 0n) {
      out.push({ rule: "limits-set", stream: s.name, message: `stream ${s.name}: maxAge "${s.maxAge}" is unlimited; set a bounded maxAge such as "24h"` });
    }
    if (size(s.maxBytes) <= 0) {
      out.push({ rule: "limits-set", stream: s.name, message: `stream ${s.name}: maxBytes ${s.maxBytes === undefined ? "unset" : `"${s.maxBytes}"`} is unbounded; set maxBytes such as "512MiB"` });
    }
    const window = ns(s.duplicateWindow ?? defaultDuplicateWindow(s.maxAge));
    if (ns(s.maxAge) > 0n && window > ns(s.maxAge)) {
      out.push({ rule: "duplicate-window", stream: s.name, message: `stream ${s.name}: duplicateWindow "${s.duplicateWindow}" exceeds maxAge "${s.maxAge}"; lower duplicateWindow to at most maxAge` });
    }
  }
  return out;
}

function capacityRules(catalog: Catalog, config: PolicyConfig): Violation[] {
  const out: Violation[] = [];
  const kinds = [
    { storage: "file", rule: "file-capacity", perServer: config.bytes.maxFileStore, key: "maxFileStore" },
    { storage: "memory", rule: "memory-capacity", perServer: config.bytes.maxMemoryStore, key: "maxMemoryStore" },
  ] as const;
  for (const kind of kinds) {
    const streams = catalog.streams.filter((s) => s.storage === kind.storage);
    const capacity = kind.perServer * config.replicas;
    const demand = streams.reduce((sum, s) => sum + size(s.maxBytes) * s.replicas, 0);
    if (demand > capacity) {
      const parts = streams.map((s) => `${s.name} ${s.maxBytes} x${s.replicas}`).join(" + ");
      out.push({
        rule: kind.rule,
        message: `${kind.storage} streams reserve ${formatSize(demand)} (${parts}) but the cluster has ${formatSize(capacity)} (${kind.key} ${formatSize(kind.perServer)} x ${config.replicas} servers); lower maxBytes (per stack: fluo-queue:streamOverrides) or raise ${kind.key}`,
      });
    }
    for (const s of streams) {
      if (size(s.maxBytes) > kind.perServer) {
        out.push({ rule: kind.rule, stream: s.name, message: `stream ${s.name}: maxBytes ${s.maxBytes} exceeds one server's ${kind.key} ${formatSize(kind.perServer)}, so no server can hold a replica; lower maxBytes` });
      }
    }
  }
  return out;
}

function publicationRules(catalog: Catalog, publications: readonly Publication[]): Violation[] {
  const out: Violation[] = [];
  for (const p of publications) {
    const streams = catalog.streams.filter((s) => inside(s.subjects, p.subject));
    if (streams.length === 0) {
      out.push({ rule: "published-subject-captured", message: `"${p.subject}" (published by ${p.publisher}) is captured by no stream; add it to a stream's subjects or the message is lost` });
    } else if (!streams.some((s) => s.publishers.includes(p.publisher))) {
      out.push({ rule: "published-subject-captured", stream: streams[0].name, message: `${p.publisher} publishes "${p.subject}" but stream ${streams[0].name} does not list it in publishers, so it would be denied; add it` });
    }
  }
  return out;
}

function userRules(catalog: Catalog): Violation[] {
  const out: Violation[] = [];
  const known = (u: string): boolean => (APP_USERS as readonly string[]).includes(u);
  for (const s of catalog.streams) {
    for (const u of s.publishers.filter((p) => !known(p))) {
      out.push({ rule: "users-known", stream: s.name, message: `stream ${s.name}: publisher "${u}" is not an application user; use one of ${APP_USERS.join(", ")}` });
    }
  }
  for (const c of catalog.consumers) {
    if (!known(c.consumer)) {
      out.push({ rule: "users-known", stream: c.stream, consumer: c.name, message: `${where(c)}: consumer user "${c.consumer}" is not an application user; use one of ${APP_USERS.join(", ")}` });
    }
  }
  return out;
}

/** Every violation of the catalog against the cluster config (empty when the catalog may be deployed). */
export function checkPolicy(catalog: Catalog, config: PolicyConfig, publications: readonly Publication[] = PUBLICATIONS): Violation[] {
  return [
    ...subjectRules(catalog),
    ...consumerRules(catalog),
    ...workQueueRules(catalog),
    ...interestRules(catalog),
    ...replicaRules(catalog, config),
    ...limitRules(catalog),
    ...capacityRules(catalog, config),
    ...publicationRules(catalog, publications),
    ...userRules(catalog),
  ];
}

export class PolicyError extends Error {
  constructor(readonly violations: readonly Violation[]) {
    super(`Stream policy violated:\n${violations.map((v) => `  - [${v.rule}] ${v.message}`).join("\n")}`);
    this.name = "PolicyError";
  }
}

/** Throws PolicyError listing every violation; the Pulumi program calls it before registering anything. */
export function assertPolicy(catalog: Catalog, config: PolicyConfig): void {
  const violations = checkPolicy(catalog, config);
  if (violations.length > 0) throw new PolicyError(violations);
}
