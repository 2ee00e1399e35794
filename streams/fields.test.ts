import { describe, expect, it } from "vitest";
import {
  CONSUMER_FIELDS,
  consumerApiConfig,
  consumerSpecFromApi,
  fieldChanges,
  normalizeConsumer,
  normalizeStream,
  STREAM_FIELDS,
  streamApiConfig,
  streamSpecFromApi,
} from "./fields";
import type { ConsumerSpec, StreamSpec } from "./spec";

const stream: StreamSpec = {
  name: "JOBS",
  subjects: ["jobs.>"],
  retention: "workqueue",
  storage: "file",
  replicas: 3,
  maxAge: "1440m",
  maxBytes: "0.5GiB",
  discard: "old",
  publishers: ["fluo-bff"],
};

const consumer: ConsumerSpec = {
  stream: "JOBS",
  name: "trace-analysis",
  filterSubject: "jobs.trace_analysis",
  deliverPolicy: "all",
  ackPolicy: "explicit",
  ackWait: "300s",
  maxDeliver: 4,
  backoff: ["5m", "600s"],
  consumer: "fluo-workers",
};

describe("stream field table", () => {
  it("sends durations in nanoseconds, sizes in bytes and the server defaults explicitly", () => {
    const api = streamApiConfig(stream);
    expect(api.max_age).toBe(86_400_000_000_000);
    expect(api.max_bytes).toBe(512 * 2 ** 20);
    expect(api.duplicate_window).toBe(120_000_000_000);
    expect(api.max_msgs).toBe(-1);
    expect(api.max_msg_size).toBe(-1);
    expect(api.num_replicas).toBe(3);
    expect(api.description).toBe("");
    expect(api.deny_delete).toBe(false);
  });

  it("defaults duplicate_window to max_age when max_age is under 2m, as the server does", () => {
    expect(streamApiConfig({ ...stream, maxAge: "90s" }).duplicate_window).toBe(90_000_000_000);
  });

  it("normalizes to the canonical readable form, equal to the read-back of the API config", () => {
    const normal = normalizeStream(stream);
    expect(normal.maxAge).toBe("1d");
    expect(normal.maxBytes).toBe("512MiB");
    expect(normal.duplicateWindow).toBe("2m");
    expect(streamSpecFromApi(streamApiConfig(stream))).toEqual(normal);
  });

  it("keeps non-binary sizes exact", () => {
    expect(normalizeStream({ ...stream, maxBytes: "1GB" }).maxBytes).toBe("1000000000B");
  });

  it("reports unit-only differences as no change, and immutable fields as replaces", () => {
    expect(fieldChanges(STREAM_FIELDS, stream, { ...stream, maxAge: "24h" })).toEqual({ changed: [], replaces: [] });
    expect(fieldChanges(STREAM_FIELDS, stream, { ...stream, maxAge: "7d", retention: "limits" })).toEqual({
      changed: ["retention", "maxAge"],
      replaces: ["retention"],
    });
  });

  it("treats turning deny_delete on as an update and off as a replace", () => {
    const on = { ...stream, denyDelete: true };
    expect(fieldChanges(STREAM_FIELDS, stream, on)).toEqual({ changed: ["denyDelete"], replaces: [] });
    expect(fieldChanges(STREAM_FIELDS, on, stream)).toEqual({ changed: ["denyDelete"], replaces: ["denyDelete"] });
  });
});

describe("consumer field table", () => {
  it("builds a durable pull consumer config in nanoseconds", () => {
    const api = consumerApiConfig(consumer);
    expect(api.durable_name).toBe("trace-analysis");
    expect(api.deliver_subject).toBeUndefined();
    expect(api.ack_wait).toBe(300_000_000_000);
    expect(api.backoff).toEqual([300_000_000_000, 600_000_000_000]);
    expect(api.max_ack_pending).toBe(1000);
    expect("stream_name" in api).toBe(false);
  });

  it("round-trips through the API config to the normalized spec", () => {
    const normal = normalizeConsumer(consumer);
    expect(normal.ackWait).toBe("5m");
    expect(normal.backoff).toEqual(["5m", "10m"]);
    expect(normal.maxAckPending).toBe(1000);
    expect(consumerSpecFromApi("JOBS", consumerApiConfig(consumer))).toEqual(normal);
  });

  it("marks deliver/ack policy and stream as replaces, ack_wait as update", () => {
    expect(fieldChanges(CONSUMER_FIELDS, consumer, { ...consumer, ackWait: "10m", backoff: ["10m"], deliverPolicy: "new", stream: "X" })).toEqual({
      changed: ["stream", "deliverPolicy", "ackWait", "backoff"],
      replaces: ["stream", "deliverPolicy"],
    });
  });

  it("compares an unconvertible value (preview placeholder) as itself instead of throwing", () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    expect(fieldChanges(CONSUMER_FIELDS, consumer, { ...consumer, ackWait: unknown }).changed).toEqual(["ackWait"]);
  });
});
