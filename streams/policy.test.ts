// Stream policy unit tests: for every rule, the shipped catalog passes it on dev and prod, and a catalog broken
// in exactly that way is caught with that rule id.
import { describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/stackFile";
import type { StackConfig } from "../infra/stackConfig";
import { catalogForStack } from "./catalog";
import { assertPolicy, checkPolicy, PolicyError, RULES, type RuleId } from "./policy";
import type { Catalog, ConsumerSpec, StreamSpec } from "./spec";

const stacks: Record<string, StackConfig> = { dev: readStackConfig("dev"), prod: readStackConfig("prod") };

const stream = (c: Catalog, name: string): StreamSpec => c.streams.find((s) => s.name === name)!;
const consumer = (c: Catalog, name: string): ConsumerSpec => c.consumers.find((x) => x.name === name)!;

/** One way to break each rule, applied to a deep copy of the shipped catalog. */
const BREAKERS: Record<RuleId, { breaks: (c: Catalog, config: StackConfig) => StackConfig | void; why: string }> = {
  "subjects-disjoint": { why: "EVENTS also captures signals.status.*", breaks: (c) => void stream(c, "EVENTS").subjects.push("signals.status.*") },
  "consumer-stream-exists": { why: "a consumer on an undeclared stream", breaks: (c) => void c.consumers.push({ ...consumer(c, "bff-updates"), stream: "NOTIFY" }) },
  "workqueue-explicit-ack": { why: "ack none on JOBS", breaks: (c) => void (consumer(c, "data-export").ackPolicy = "none") },
  "workqueue-deliver-all": { why: "deliver new on JOBS", breaks: (c) => void (consumer(c, "rule-validation").deliverPolicy = "new") },
  "workqueue-one-unfiltered": {
    why: "two unfiltered JOBS consumers",
    breaks: (c) => {
      delete consumer(c, "trace-analysis").filterSubject;
      delete consumer(c, "rule-validation").filterSubject;
    },
  },
  "workqueue-filters-disjoint": { why: "jobs.* overlaps jobs.data_export", breaks: (c) => void (consumer(c, "trace-analysis").filterSubject = "jobs.*") },
  "interest-has-consumer": { why: "SIGNALS without consumers", breaks: (c) => void (c.consumers = c.consumers.filter((x) => x.stream !== "SIGNALS")) },
  "replicas-cluster-size": { why: "a 1-server cluster", breaks: (_c, config) => ({ ...config, replicas: 1 }) },
  "replicas-prod": { why: "R1 in prod", breaks: (c, config) => ((stream(c, "JOBS").replicas = 1), { ...config, environment: "prod" }) },
  "limits-set": { why: "unlimited max_age", breaks: (c) => void (stream(c, "SIGNALS").maxAge = "0") },
  "file-capacity": { why: "EVENTS larger than the cluster", breaks: (c, config) => void (stream(c, "EVENTS").maxBytes = `${Math.ceil(config.bytes.maxFileStore / 2 ** 20)}MiB`) },
  "memory-capacity": {
    why: "a memory stream larger than max_memory_store",
    breaks: (c, config) => void (Object.assign(stream(c, "SIGNALS"), { storage: "memory", maxBytes: `${config.bytes.maxMemoryStore * 2}B` })),
  },
  "duplicate-window": { why: "duplicate window above max_age", breaks: (c) => void (stream(c, "JOBS").duplicateWindow = "48h") },
  "backoff-max-deliver": { why: "3 delays for 3 deliveries", breaks: (c) => void (consumer(c, "data-export").backoff = ["15m", "30m", "1h"]) },
  "published-subject-captured": { why: "signals.> not captured", breaks: (c) => void (stream(c, "SIGNALS").subjects = ["signals.status.>"]) },
  "consumer-filter-in-stream": { why: "a filter outside the stream", breaks: (c) => void (consumer(c, "bff-updates").filterSubject = "jobs.trace_analysis") },
  "users-known": { why: "the provisioner as a consumer user", breaks: (c) => void (consumer(c, "inspect").consumer = "fluo-provisioner") },
};

describe.each(Object.keys(stacks))("stream policy on the %s stack", (stackName) => {
  const config = stacks[stackName];
  const shipped = catalogForStack(config);

  it("the shipped catalog has no violations at all", () => {
    expect(checkPolicy(shipped, config)).toEqual([]);
    expect(() => assertPolicy(shipped, config)).not.toThrow();
  });

  describe.each(Object.keys(RULES) as RuleId[])("rule %s", (rule) => {
    it("passes the shipped catalog", () => {
      expect(checkPolicy(shipped, config).filter((v) => v.rule === rule)).toEqual([]);
    });

    it(`catches a broken catalog (${BREAKERS[rule].why})`, () => {
      const broken = structuredClone(shipped);
      const brokenConfig = BREAKERS[rule].breaks(broken, config) ?? config;
      const violations = checkPolicy(broken, brokenConfig).filter((v) => v.rule === rule);
      expect(violations.length).toBeGreaterThan(0);
      for (const v of violations) expect(v.message.length).toBeGreaterThan(20);
    });
  });
});

describe("policy messages", () => {
  const config = stacks.prod;
  it("names the stream/consumer and says what to change", () => {
    const broken = structuredClone(catalogForStack(config));
    consumer(broken, "trace-analysis").filterSubject = "jobs.*";
    const [v] = checkPolicy(broken, config).filter((x) => x.rule === "workqueue-filters-disjoint");
    expect(v.stream).toBe("JOBS");
    expect(v.message).toContain("trace-analysis");
    expect(v.message).toContain("make the filters disjoint");
  });

  it("names the override key when capacity is exceeded", () => {
    const broken = structuredClone(catalogForStack(stacks.dev));
    stream(broken, "JOBS").maxBytes = "2GiB";
    stream(broken, "EVENTS").maxBytes = "2GiB";
    const messages = checkPolicy(broken, stacks.dev).map((v) => v.message).join("\n");
    expect(messages).toContain("fluo-queue:streamOverrides");
  });

  it("assertPolicy throws a PolicyError listing every violation", () => {
    const broken = structuredClone(catalogForStack(config));
    consumer(broken, "data-export").ackPolicy = "none";
    stream(broken, "SIGNALS").maxAge = "0";
    let error: unknown;
    try {
      assertPolicy(broken, config);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).violations.map((v) => v.rule).sort()).toEqual(["limits-set", "workqueue-explicit-ack"]);
    expect((error as Error).message).toContain("[workqueue-explicit-ack]");
  });

  it("the dev catalog without its overrides would not fit dev's file store", () => {
    const unscaled = catalogForStack({ streamOverrides: {} });
    expect(checkPolicy(unscaled, stacks.dev).map((v) => v.rule)).toContain("file-capacity");
  });
});
