import { describe, expect, it } from "vitest";
import { parseCatalog, type Catalog } from "./spec";

const valid = (): Catalog => ({
  streams: [
    {
      name: "JOBS",
      subjects: ["jobs.>"],
      retention: "workqueue",
      storage: "file",
      replicas: 3,
      maxAge: "24h",
      maxBytes: "512MiB",
      discard: "old",
      publishers: ["fluo-bff"],
    },
  ],
  consumers: [
    {
      stream: "JOBS",
      name: "trace-analysis",
      filterSubject: "jobs.trace_analysis",
      deliverPolicy: "all",
      ackPolicy: "explicit",
      ackWait: "5m",
      maxDeliver: 4,
      backoff: ["5m", "10m"],
      consumer: "fluo-workers",
    },
  ],
});

function problemsOf(raw: unknown): string {
  try {
    parseCatalog(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected parseCatalog to throw");
}

describe("parseCatalog", () => {
  it("accepts a valid catalog unchanged", () => {
    expect(parseCatalog(valid())).toEqual(valid());
  });

  it("names the stream and field of a bad duration and says what is allowed", () => {
    const raw = valid();
    raw.streams[0].maxAge = "one day";
    const message = problemsOf(raw);
    expect(message).toContain("streams.JOBS.maxAge");
    expect(message).toContain('"24h"');
  });

  it("names the stream and field of a bad size and of a bad enum", () => {
    const raw = valid() as unknown as { streams: Array<Record<string, unknown>> };
    raw.streams[0].maxBytes = "lots";
    raw.streams[0].retention = "WorkQueue";
    const message = problemsOf(raw);
    expect(message).toContain("streams.JOBS.maxBytes");
    expect(message).toContain("streams.JOBS.retention");
    expect(message).toContain("workqueue");
  });

  it("names a consumer as <stream>.<consumer>", () => {
    const raw = valid();
    raw.consumers[0].ackWait = "soon";
    expect(problemsOf(raw)).toContain("consumers.JOBS.trace-analysis.ackWait");
  });

  it("rejects unknown users, unknown fields and bad subjects", () => {
    const raw = valid() as unknown as { streams: Array<Record<string, unknown>>; consumers: Array<Record<string, unknown>> };
    raw.streams[0].publishers = ["fluo-nobody"];
    raw.streams[0].subjects = ["jobs.>.x"];
    raw.consumers[0].maxAckPendingg = 5;
    const message = problemsOf(raw);
    expect(message).toContain("streams.JOBS.publishers");
    expect(message).toContain("fluo-bff");
    expect(message).toContain("streams.JOBS.subjects");
    expect(message).toContain("maxAckPendingg");
  });

  it("requires ackWait == backoff[0] and fewer backoff delays than deliveries (nats-server 2.9 rules)", () => {
    const raw = valid();
    raw.consumers[0].ackWait = "1m";
    raw.consumers[0].maxDeliver = 2;
    const message = problemsOf(raw);
    expect(message).toContain("consumers.JOBS.trace-analysis.ackWait: must equal backoff[0]");
    expect(message).toContain("consumers.JOBS.trace-analysis.backoff");
  });

  it("rejects duplicate streams and consumers on undeclared streams", () => {
    const raw = valid();
    raw.streams.push({ ...raw.streams[0] });
    raw.consumers.push({ ...raw.consumers[0], stream: "NOPE" });
    const message = problemsOf(raw);
    expect(message).toContain("streams.JOBS: declared twice");
    expect(message).toContain('consumers.NOPE.trace-analysis.stream: "NOPE" is not a declared stream');
  });
});
