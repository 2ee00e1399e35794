// The pure parts of the loss guards: counts, consumer rules and unknown handling, without a server.

import { describe, expect, it } from "vitest";
import type { ConsumerInfo, StreamConfig, StreamInfo } from "nats";
import { STREAM_FIELDS } from "../fields";
import {
  changesAllowingUnknowns,
  describeAgeLoss,
  describeLosses,
  filtersOverlap,
  interestSwitchLoss,
  MAX_AGE_LOSS_WINDOW_MS,
  maxAgeLoss,
  updateLosses,
  workqueueProblems,
} from "./guards";
import { UNKNOWN } from "./settings";

const NOW = Date.parse("2026-12-01T10:00:00Z");
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const info = (messages: number, bytes: number, firstAgoMs: number, lastAgoMs: number, firstSeq = 1, maxAgeMs = 0): StreamInfo =>
  ({
    config: { name: "S", max_age: maxAgeMs * 1_000_000 },
    state: { messages, bytes, first_seq: firstSeq, first_ts: new Date(NOW - firstAgoMs).toISOString(), last_ts: new Date(NOW - lastAgoMs).toISOString() },
  }) as unknown as StreamInfo;
const next = (c: Partial<StreamConfig>): StreamConfig => ({ max_msgs: -1, max_bytes: -1, max_age: 0, ...c }) as StreamConfig;

describe("updateLosses", () => {
  it("counts max_msgs exactly, max_bytes as an estimate, nothing for raised limits", () => {
    const s = info(200, 200 * 1024, 60_000, 0);
    expect(updateLosses(s, next({ max_msgs: 10 }), NOW)).toEqual([{ field: "maxMsgs", messages: 190, exact: true }]);
    expect(updateLosses(s, next({ max_bytes: 64 * 1024 }), NOW)).toEqual([{ field: "maxBytes", messages: 136, exact: false }]);
    expect(updateLosses(s, next({ max_msgs: 500, max_bytes: 1 << 30, max_age: 2 * HOUR * 1_000_000 }), NOW)).toEqual([]);
    expect(updateLosses(info(0, 0, 0, 0), next({ max_msgs: 1 }), NOW)).toEqual([]);
  });

  it("counts a lowered maxAge by what it removes within the window, naming old and new value and when they go", () => {
    // The finding of issue 20: 7d -> 2m over 300 messages stored 90 s ago; nothing is older than 2m yet.
    const events = info(300, 300 * 100, 90 * SECOND, 90 * SECOND, 1, 7 * DAY);
    const [loss] = updateLosses(events, next({ max_age: 2 * MINUTE * 1_000_000 }), NOW);
    expect(loss).toEqual({ field: "maxAge", messages: 300, exact: true, change: "7d -> 2m", when: "within 30s of the update (the oldest, stored 1m30s ago, in 30s)" });
    expect(describeLosses([loss], 300)).toBe("maxAge 7d -> 2m would drop 300 of its 300 message(s) within 30s of the update (the oldest, stored 1m30s ago, in 30s)");
    // Already older than the new limit: gone at once, as the guard said before the window.
    const old = info(200, 200 * 1024, 60_000, 5_000, 1, DAY);
    expect(updateLosses(old, next({ max_age: 1_000_000_000 }), NOW)).toEqual([
      { field: "maxAge", messages: 200, exact: true, change: "1d -> 1s", when: "at once (the oldest stored 1m ago)" },
    ]);
    // Unlimited before, and the default window.
    expect(updateLosses(info(5, 50, 10 * SECOND, 0), next({ max_age: 30 * MINUTE * 1_000_000 }), NOW)[0]).toMatchObject({ messages: 5, change: "unlimited -> 30m" });
  });
});

describe("maxAgeLoss: the time arithmetic of a lowered maxAge", () => {
  const span = (messages: number, firstAgoMs: number, lastAgoMs: number) => ({
    messages,
    first_ts: new Date(NOW - firstAgoMs).toISOString(),
    last_ts: new Date(NOW - lastAgoMs).toISOString(),
  });
  const W = MAX_AGE_LOSS_WINDOW_MS;

  it("the window is one hour", () => {
    expect(W).toBe(HOUR);
  });

  it("loses every stored message when the new maxAge is within the window: they all go before it ends", () => {
    expect(maxAgeLoss(span(300, 90 * SECOND, 90 * SECOND), 7 * DAY, 2 * MINUTE, NOW)).toEqual({ messages: 300, exact: true, firstGoneMs: 30 * SECOND, lastGoneMs: 30 * SECOND, oldestAgeMs: 90 * SECOND });
    // Spread over 90 s: the oldest goes in 30 s, the newest (just stored) 2m after the update.
    expect(maxAgeLoss(span(300, 90 * SECOND, 0), 7 * DAY, 2 * MINUTE, NOW)).toMatchObject({ messages: 300, exact: true, firstGoneMs: 30 * SECOND, lastGoneMs: 2 * MINUTE });
    expect(maxAgeLoss(span(300, 90 * SECOND, 0), 7 * DAY, W, NOW)).toMatchObject({ messages: 300, exact: true });
  });

  it("loses nothing when the new cut lies beyond the window, or the limit is not lowered", () => {
    // 7d -> 2h, oldest 3 s old: it goes in 1h59m57s, after the window.
    expect(maxAgeLoss(span(300, 3 * SECOND, 0), 7 * DAY, 2 * HOUR, NOW)).toBeUndefined();
    // The boundary: a message that goes exactly when the window ends is lost, one second later is not.
    expect(maxAgeLoss(span(1, HOUR, HOUR), 7 * DAY, 2 * HOUR, NOW)).toMatchObject({ messages: 1, lastGoneMs: HOUR });
    expect(maxAgeLoss(span(1, HOUR - SECOND, HOUR - SECOND), 7 * DAY, 2 * HOUR, NOW)).toBeUndefined();
    expect(maxAgeLoss(span(300, DAY, 0), 7 * DAY, 7 * DAY, NOW)).toBeUndefined();
    expect(maxAgeLoss(span(300, DAY, 0), 2 * DAY, 7 * DAY, NOW)).toBeUndefined();
    expect(maxAgeLoss(span(300, DAY, 0), 7 * DAY, 0, NOW)).toBeUndefined();
    expect(maxAgeLoss(span(0, DAY, 0), 7 * DAY, SECOND, NOW)).toBeUndefined();
  });

  it("estimates the share of a span the new cut crosses, assuming an even spread in time", () => {
    // 7d -> 1d over 2 days of messages: the cut is 23h ago, so the older 25h of 48h go (within the hour, some at once).
    const loss = maxAgeLoss(span(4_800, 2 * DAY, 0), 7 * DAY, DAY, NOW)!;
    expect(loss).toEqual({ messages: 2_500, exact: false, firstGoneMs: 0, lastGoneMs: HOUR, oldestAgeMs: 2 * DAY });
    expect(describeAgeLoss(loss)).toBe("within 1h of the update (the oldest, stored 2d ago, at once)");
  });

  it("does not count what the old limit removes within the window anyway", () => {
    // 2h -> 90m over messages 1h30m..0 old: those older than 1h go within the hour under 2h already;
    // 90m newly removes those 30m..1h old (a third of the span).
    const loss = maxAgeLoss(span(900, 90 * MINUTE, 0), 2 * HOUR, 90 * MINUTE, NOW)!;
    expect(loss).toMatchObject({ messages: 300, exact: false, lastGoneMs: HOUR, oldestAgeMs: HOUR });
    // Every stored message goes within the hour under the old limit: the update loses none of them.
    expect(maxAgeLoss(span(10, 110 * MINUTE, 70 * MINUTE), 2 * HOUR, 90 * MINUTE, NOW)).toBeUndefined();
  });

  it("says 'at once' when every message is already older than the new limit", () => {
    const loss = maxAgeLoss(span(200, MINUTE, 5 * SECOND), DAY, SECOND, NOW)!;
    expect(loss).toMatchObject({ messages: 200, exact: true, firstGoneMs: 0, lastGoneMs: 0 });
    expect(describeAgeLoss(loss)).toBe("at once (the oldest stored 1m ago)");
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
