import { describe, expect, it } from "vitest";
import { percentile, resultTable } from "./stats";

describe("percentile", () => {
  it("uses the nearest rank", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.9)).toBe(90);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
  });
  it("is NaN without samples", () => {
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("resultTable", () => {
  it("prints rate and percentiles per phase, dashes where nothing was sampled", () => {
    const table = resultTable([
      { phase: "publish", messages: 1000, seconds: 2, latenciesMs: [1, 2, 3, 4] },
      { phase: "consume", messages: 500, seconds: 0.5, latenciesMs: [] },
    ]);
    const [header, , publish, consume] = table.split("\n");
    expect(header).toMatch(/^phase\s+msgs\s+seconds\s+msg\/s\s+p50 ms\s+p90 ms\s+p99 ms$/);
    expect(publish.split(/\s+/)).toEqual(["publish", "1000", "2.00", "500", "2.00", "4.00", "4.00"]);
    expect(consume.split(/\s+/)).toEqual(["consume", "500", "0.50", "1000", "-", "-", "-"]);
  });
});
