// The pure parts of the loss guards: counts, consumer rules and unknown handling, without a server.

import { describe, expect, it } from "vitest";
import type { ConsumerInfo, StreamConfig, StreamInfo } from "nats";
import { STREAM_FIELDS } from "../fields";
import { changesAllowingUnknowns, filtersOverlap, interestSwitchLoss, updateLosses, workqueueProblems } from "./guards";
import { UNKNOWN } from "./settings";

const NOW = Date.parse("2026-12-01T10:00:00Z");
const info = (messages: number, bytes: number, firstAgoMs: number, lastAgoMs: number, firstSeq = 1): StreamInfo =>
  ({
    config: { name: "S" },
    state: { messages, bytes, first_seq: firstSeq, first_ts: new Date(NOW - firstAgoMs).toISOString(), last_ts: new Date(NOW - lastAgoMs).toISOString() },
  }) as unknown as StreamInfo;
const next = (c: Partial<StreamConfig>): StreamConfig => ({ max_msgs: -1, max_bytes: -1, max_age: 0, ...c }) as StreamConfig;

describe("updateLosses", () => {
  it("counts max_msgs exactly, max_bytes and max_age as estimates, nothing for raised limits", () => {
    const s = info(200, 200 * 1024, 60_000, 0);
    expect(updateLosses(s, next({ max_msgs: 10 }), NOW)).toEqual([{ field: "maxMsgs", messages: 190, exact: true }]);
    expect(updateLosses(s, next({ max_bytes: 64 * 1024 }), NOW)).toEqual([{ field: "maxBytes", messages: 136, exact: false }]);
    // Half the stream's time span is older than 30 s.
    expect(updateLosses(s, next({ max_age: 30_000_000_000 }), NOW)).toEqual([{ field: "maxAge", messages: 100, exact: false }]);
    expect(updateLosses(s, next({ max_age: 1_000_000_000 }), NOW)).toEqual([{ field: "maxAge", messages: 197, exact: false }]);
    expect(updateLosses(info(200, 200 * 1024, 60_000, 5_000), next({ max_age: 1_000_000_000 }), NOW)[0]).toMatchObject({ messages: 200, exact: true });
    expect(updateLosses(s, next({ max_msgs: 500, max_bytes: 1 << 30, max_age: 3_600_000_000_000 }), NOW)).toEqual([]);
    expect(updateLosses(info(0, 0, 0, 0), next({ max_msgs: 1 }), NOW)).toEqual([]);
  });
});

describe("interestSwitchLoss", () => {
  const consumer = (floor: number) => ({ ack_floor: { stream_seq: floor } }) as unknown as ConsumerInfo;
  it("drops what every consumer acked, or everything without consumers", () => {
    expect(interestSwitchLoss(info(10, 100, 0, 0, 1), [])).toBe(10);
    expect(interestSwitchLoss(info(10, 100, 0, 0, 1), [consumer(0), consumer(7)])).toBe(0);
    expect(interestSwitchLoss(info(10, 100, 0, 0, 1), [consumer(4), consumer(7)])).toBe(4);
  });
});

describe("workqueue consumer rules", () => {
  it("knows which filters overlap", () => {
    expect(filtersOverlap("jobs.a", "jobs.b")).toBe(false);
    expect(filtersOverlap("jobs.*", "jobs.b")).toBe(true);
    expect(filtersOverlap("jobs.>", "jobs.b.c")).toBe(true);
    expect(filtersOverlap("jobs.a.>", "jobs.b.>")).toBe(false);
    expect(filtersOverlap("jobs.a", "jobs.a.b")).toBe(false);
    expect(filtersOverlap("", "jobs.a")).toBe(true);
  });

  it("names ack, deliver and overlap problems with the server's error codes", () => {
    expect(workqueueProblems([{ name: "a", ackPolicy: "explicit", deliverPolicy: "all", filterSubject: "j.a" }, { name: "b", ackPolicy: "explicit", deliverPolicy: "all", filterSubject: "j.b" }])).toEqual([]);
    const problems = workqueueProblems([
      { name: "a", ackPolicy: "none", deliverPolicy: "new", filterSubject: "j.*" },
      { name: "b", ackPolicy: "explicit", deliverPolicy: "all", filterSubject: "j.b" },
    ]);
    expect(problems).toEqual([
      expect.stringMatching(/^consumer a: ack policy none.*10098\)$/),
      expect.stringMatching(/^consumer a: deliver policy new.*10101\)$/),
      expect.stringMatching(/^consumers a and b: filters "j\.\*" and "j\.b" overlap.*10100\)$/),
    ]);
  });
});

describe("changesAllowingUnknowns", () => {
  const olds = { name: "S", subjects: ["s.>"], retention: "limits", storage: "file", replicas: 3, maxAge: "1d", maxBytes: "1MiB", denyDelete: true };
  it("counts an unknown value as a change, and as a replace where it could force one", () => {
    expect(changesAllowingUnknowns(STREAM_FIELDS, olds, { ...olds, denyDelete: UNKNOWN })).toEqual({ changed: ["denyDelete"], replaces: ["denyDelete"] });
    expect(changesAllowingUnknowns(STREAM_FIELDS, olds, { ...olds, maxAge: UNKNOWN })).toEqual({ changed: ["maxAge"], replaces: [] });
    expect(changesAllowingUnknowns(STREAM_FIELDS, olds, { ...olds, storage: UNKNOWN, maxBytes: "2MiB" })).toEqual({ changed: ["maxBytes", "storage"], replaces: ["storage"] });
  });
});
