import { describe, expect, it } from "vitest";
import { durationNanos, formatDuration, formatSize, parseDuration, parseSize } from "./units";

describe("sizes", () => {
  it("reads binary and decimal units exactly (GiB is not GB)", () => {
    expect(parseSize("10GiB")).toBe(10 * 2 ** 30);
    expect(parseSize("10Gi")).toBe(10 * 2 ** 30);
    expect(parseSize("10GB")).toBe(10 * 10 ** 9);
    expect(parseSize("512MiB")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5GiB")).toBe(1.5 * 2 ** 30);
    expect(parseSize("4096")).toBe(4096);
  });

  it("rejects what is not a size", () => {
    for (const bad of ["", "GiB", "10 gigs", "-1GiB", "10XB", "1e3"]) expect(parseSize(bad), bad).toBeUndefined();
  });

  it("formats the shortest exact binary spelling", () => {
    expect(formatSize(10 * 2 ** 30)).toBe("10GiB");
    expect(formatSize(1536 * 2 ** 20)).toBe("1536MiB");
    expect(formatSize(100)).toBe("100B");
  });
});

describe("durations", () => {
  it("are nanoseconds, as the JetStream API wants them (the ADR's milliseconds were wrong)", () => {
    expect(durationNanos("24h")).toBe(86_400_000_000_000);
    expect(parseDuration("7d")).toBe(604_800_000_000_000n);
    expect(parseDuration("1h30m")).toBe(5_400_000_000_000n);
    expect(parseDuration("500ms")).toBe(500_000_000n);
    expect(parseDuration("0")).toBe(0n);
  });

  it("rejects what is not a duration", () => {
    for (const bad of ["", "24", "1y", "h", "5 m", "-5m"]) expect(parseDuration(bad), bad).toBeUndefined();
  });

  it("format back to a readable, re-parseable form", () => {
    expect(formatDuration(86_400_000_000_000)).toBe("1d");
    expect(formatDuration(5_400_000_000_000n)).toBe("1h30m");
    for (const text of ["90s", "2m", "36h", "250ms"]) expect(parseDuration(formatDuration(parseDuration(text)!))).toBe(parseDuration(text));
  });
});
