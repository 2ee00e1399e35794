import { describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/stackFile";
import { parseStackConfig } from "../infra/stackConfig";
import { BASE_CATALOG, catalogForStack, JOB_SUBJECTS, parseStreamOverrides } from "./catalog";
import {
  consumerApiConfig,
  consumerSpecFromApi,
  normalizeConsumer,
  normalizeStream,
  streamApiConfig,
  streamSpecFromApi,
} from "./fields";
import { parseCatalog } from "./spec";

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected an error");
}

describe("the shipped catalog", () => {
  it("is valid as declared", () => {
    expect(parseCatalog(BASE_CATALOG)).toEqual(BASE_CATALOG);
  });

  it("has JOBS as the ADR and issue ask: work queue, file, R3, 24h, discard old, one explicit-ack consumer per job type", () => {
    const jobs = BASE_CATALOG.streams.find((s) => s.name === "JOBS")!;
    expect(jobs).toMatchObject({ subjects: ["jobs.>"], retention: "workqueue", storage: "file", replicas: 3, maxAge: "24h", discard: "old" });
    const consumers = BASE_CATALOG.consumers.filter((c) => c.stream === "JOBS");
    expect(consumers.map((c) => c.filterSubject).sort()).toEqual([...JOB_SUBJECTS].sort());
    for (const c of consumers) {
      expect(c).toMatchObject({ ackPolicy: "explicit", deliverPolicy: "all", consumer: "fluo-workers" });
      expect(c.backoff?.length).toBeGreaterThan(0);
    }
  });

  it("keeps SIGNALS 7 days with interest retention and EVENTS with limits retention (replayable)", () => {
    expect(BASE_CATALOG.streams.find((s) => s.name === "SIGNALS")).toMatchObject({ retention: "interest", maxAge: "7d", subjects: ["signals.>"] });
    expect(BASE_CATALOG.streams.find((s) => s.name === "EVENTS")).toMatchObject({ retention: "limits", subjects: ["events.>"] });
    expect(BASE_CATALOG.streams.find((s) => s.name === "DEADLETTER")!.subjects).toEqual(["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.>"]);
  });

  // normalize(spec) must equal what reading back the API config gives, or every refresh would report drift.
  describe.each(["dev", "prod"])("%s stack: API config round trip", (stack) => {
    const catalog = catalogForStack(readStackConfig(stack));
    it.each(catalog.streams.map((s) => [s.name, s] as const))("stream %s", (_name, s) => {
      expect(streamSpecFromApi(streamApiConfig(s))).toEqual(normalizeStream(s));
      expect(normalizeStream(normalizeStream(s))).toEqual(normalizeStream(s));
      expect(streamApiConfig(normalizeStream(s))).toEqual(streamApiConfig(s));
    });
    it.each(catalog.consumers.map((c) => [`${c.stream}/${c.name}`, c] as const))("consumer %s", (_name, c) => {
      expect(consumerSpecFromApi(c.stream, consumerApiConfig(c))).toEqual(normalizeConsumer(c));
      expect(consumerApiConfig(normalizeConsumer(c))).toEqual(consumerApiConfig(c));
    });
  });
});

describe("fluo-queue:streamOverrides", () => {
  it("shrinks the dev stack's streams", () => {
    const dev = catalogForStack(readStackConfig("dev"));
    expect(dev.streams.find((s) => s.name === "JOBS")!.maxBytes).toBe("512MiB");
    expect(catalogForStack(readStackConfig("prod")).streams.find((s) => s.name === "JOBS")!.maxBytes).toBe("2GiB");
  });

  it("accepts the JSON text the Pulumi engine hands over", () => {
    const config = parseStackConfig("t", { streamOverrides: '{"JOBS":{"maxBytes":"256MiB","maxAge":"12h"}}' });
    expect(catalogForStack(config).streams.find((s) => s.name === "JOBS")).toMatchObject({ maxBytes: "256MiB", maxAge: "12h" });
  });

  it("names the key of a bad value", () => {
    expect(errorOf(() => parseStreamOverrides({ JOBS: { maxBytes: "huge" } }))).toContain('fluo-queue:streamOverrides.JOBS.maxBytes = "huge": must be a size');
    expect(errorOf(() => parseStreamOverrides({ JOBS: { maxAge: "forever" } }))).toContain('fluo-queue:streamOverrides.JOBS.maxAge = "forever"');
  });

  it("refuses unknown streams and fields that are not limits", () => {
    expect(errorOf(() => parseStreamOverrides({ JOBZ: { maxBytes: "1GiB" } }))).toContain("fluo-queue:streamOverrides.JOBZ: not a stream of the catalog (JOBS, SIGNALS, EVENTS, DEADLETTER)");
    expect(errorOf(() => parseStreamOverrides({ JOBS: { retention: "limits" } }))).toContain("fluo-queue:streamOverrides.JOBS");
    expect(errorOf(() => parseStreamOverrides(["JOBS"]))).toContain("must be a map of stream name to limits");
  });
});
