// The ratio and table of bench:engine, and the process-tree memory sum it reports, without an engine.

import { describe, expect, it } from "vitest";
import { engineRatio, ratioTable, type SizeFigures } from "./engineReport";
import { parseStatus, treeRssBytes } from "./processTree";

const MiB = 2 ** 20;
const run = (over: Partial<SizeFigures> = {}): SizeFigures => ({
  streams: 300,
  resources: 1_800,
  providerCreateSeconds: 45,
  engineUpSeconds: 380,
  previewSeconds: 27.3,
  stateBytes: 5.3 * MiB,
  upPeakRssBytes: 900 * MiB,
  previewPeakRssBytes: 700 * MiB,
  ...over,
});

describe("engineRatio", () => {
  it("is the engine's per-resource create time over the provider's", () => {
    expect(engineRatio(run())).toBeCloseTo(380 / 45);
    expect(engineRatio(run({ engineUpSeconds: 45 }))).toBe(1);
  });
});

describe("ratioTable", () => {
  it("shows per-resource times, the ratio, preview, state and peak memory per size", () => {
    const text = ratioTable([run({ streams: 100, resources: 600, providerCreateSeconds: 15, engineUpSeconds: 45, previewSeconds: 11, stateBytes: 1.77 * MiB }), run()], 5);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^\| catalog +\| resources +\| provider create +\| engine first up +\| ratio +\| no-op preview +\| state file +\| peak RSS up \/ preview +\|$/);
    expect(lines[1]).toMatch(/^\|-+\|-+\|/);
    expect(lines[2]).toMatch(/^\| 100x5 +\| 600 +\| 15\.0 s \(25\.0 ms\) +\| 45\.0 s \(75\.0 ms\) +\| 3\.0x +\| 11\.0 s +\| 1\.77 MiB +\| 900 MiB \/ 700 MiB +\|$/);
    expect(lines[3]).toMatch(/^\| 300x5 +\| 1800 +\| 45\.0 s \(25\.0 ms\) +\| 380\.0 s \(211\.1 ms\) +\| 8\.4x +\| 27\.3 s +\| 5\.30 MiB +\|/);
  });
});

describe("process tree memory", () => {
  it("sums the descendants of the root, not the root, and leaves excluded subtrees out", () => {
    const rows = [
      { pid: 1, ppid: 0, rssBytes: 1 },
      { pid: 10, ppid: 1, rssBytes: 100 }, // the benchmark itself
      { pid: 11, ppid: 10, rssBytes: 20 }, // npm
      { pid: 12, ppid: 11, rssBytes: 300 }, // pulumi
      { pid: 13, ppid: 12, rssBytes: 4_000 }, // language host
      { pid: 20, ppid: 10, rssBytes: 50_000 }, // a nats-server of the benchmark
      { pid: 21, ppid: 20, rssBytes: 7 }, // (a child of it)
    ];
    expect(treeRssBytes(rows, 10)).toBe(20 + 300 + 4_000 + 50_000 + 7);
    expect(treeRssBytes(rows, 10, new Set([20]))).toBe(4_320);
    expect(treeRssBytes(rows, 13)).toBe(0);
  });

  it("reads PPid and VmRSS from /proc/<pid>/status, and skips kernel threads (no VmRSS)", () => {
    expect(parseStatus(42, "Name:\tnode\nPid:\t42\nPPid:\t7\nVmRSS:\t  123456 kB\n")).toEqual({ pid: 42, ppid: 7, rssBytes: 123_456 * 1024 });
    expect(parseStatus(2, "Name:\tkthreadd\nPid:\t2\nPPid:\t0\n")).toBeUndefined();
  });
});
