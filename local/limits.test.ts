import { describe, expect, it } from "vitest";
import { localLimits, reservationProblems } from "./limits";
import { portsFromBase, websocketPortsFromBase } from "./ports";

const GiB = 2 ** 30;

describe("localLimits", () => {
  it("keeps the stack's limits when the machine has room", () => {
    const l = localLimits({ maxMemoryStore: GiB / 4, maxFileStore: 2 * GiB }, { freeDiskBytes: 100 * GiB, freeMemoryBytes: 16 * GiB }, 3);
    expect([l.maxMemoryStore, l.maxFileStore]).toEqual([GiB / 4, 2 * GiB]);
    expect(l.explanation.join("\n")).toContain("the stack's value");
  });
  it("caps each limit at a share of the free resource split over the servers", () => {
    const l = localLimits({ maxMemoryStore: GiB, maxFileStore: 10 * GiB }, { freeDiskBytes: 6 * GiB, freeMemoryBytes: 6 * GiB }, 3);
    expect(l.maxFileStore).toBe(GiB); // 50% of 6GiB / 3
    expect(l.maxMemoryStore).toBe(GiB / 2); // 25% of 6GiB / 3
    expect(l.explanation[1]).toContain("stack asks 10240MiB");
  });
});

describe("reservationProblems", () => {
  it("reports streams whose max_bytes add up to more than the store", () => {
    const streams = [
      { name: "JOBS", storage: "file" as const, maxBytes: 2 * GiB },
      { name: "EVENTS", storage: "file" as const, maxBytes: 4 * GiB },
    ];
    expect(reservationProblems(streams, { maxMemoryStore: GiB, maxFileStore: 8 * GiB })).toEqual([]);
    const [problem] = reservationProblems(streams, { maxMemoryStore: GiB, maxFileStore: 2 * GiB });
    expect(problem).toContain("JOBS 2048MiB, EVENTS 4096MiB");
    expect(problem).toContain("streamOverrides");
  });
});

describe("portsFromBase", () => {
  it("puts client, cluster and monitor ports in separate ranges", () => {
    expect(portsFromBase(4222, 3)).toEqual([
      { client: 4222, cluster: 6222, monitor: 8222 },
      { client: 4223, cluster: 6223, monitor: 8223 },
      { client: 4224, cluster: 6224, monitor: 8224 },
    ]);
  });
  it("rejects a base whose ranges leave the port space", () => {
    expect(() => portsFromBase(63000, 3)).toThrow(/base port 63000/);
    expect(() => portsFromBase(80, 3)).toThrow(RangeError);
  });
});

describe("websocketPortsFromBase", () => {
  it("puts the browsers' ports above the leafnode range of a region pair: 12222.. by default", () => {
    expect(websocketPortsFromBase(4222, 3)).toEqual([12222, 12223, 12224]);
  });
  it("rejects a base whose WebSocket ports leave the port space", () => {
    expect(() => websocketPortsFromBase(60000, 3)).toThrow(/base port 60000: the WebSocket ports/);
  });
});
