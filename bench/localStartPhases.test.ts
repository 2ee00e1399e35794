import { describe, expect, it } from "vitest";
import { phaseSplit, serverElections } from "./localStartPhases";

describe("bench:local's phase split", () => {
  it("cuts the CLI's progress lines into phases ending at each marker (the last server start for spawning)", () => {
    const split = phaseSplit([
      { ms: 800, text: "  .. hashing passwords (bcrypt)" },
      { ms: 2000, text: "  .. started nats-0 (pid 1) on nats://127.0.0.1:4222, monitor http://127.0.0.1:8222" },
      { ms: 2100, text: "  .. started nats-2 (pid 3) on nats://127.0.0.1:4224, monitor http://127.0.0.1:8224" },
      { ms: 7500, text: "  .. JetStream meta leader: nats-1" },
      { ms: 8000, text: "  .. streams and consumers current on every server (0.5 s)" },
      { ms: 8300, text: "  .. catalog applied: 0 created, 0 updated, 0 replaced, 11 unchanged" },
      { ms: 8400, text: "Ready: nats://127.0.0.1:4222 (pids 1,2,3); credentials in .local/credentials; Ctrl-C to stop" },
    ]);
    expect(split.phases.map((p) => p.seconds)).toEqual([0.8, 1.3, 5.4, 0.5, 0.3, 0.1].map((s) => expect.closeTo(s, 6)));
    expect(split.readySeconds).toBe(8.4);
  });

  it("ends the first phase at the NKEY line when nothing is hashed (authentication nkey)", () => {
    const split = phaseSplit([
      { ms: 700, text: "  .. NKEY logins: nats.conf lists each user's public key, no password hash (nothing to hash); seeds in .local/credentials/<user>.seed" },
      { ms: 900, text: "  .. started nats-2 (pid 3) on nats://127.0.0.1:4224, monitor http://127.0.0.1:8224" },
    ]);
    expect(split.phases[0].seconds).toBe(0.7);
    expect(split.phases[1].seconds).toBeCloseTo(0.2, 6);
  });

  it("marks a phase whose line never came as NaN and times the next from the last known line", () => {
    const split = phaseSplit([
      { ms: 1000, text: "  .. hashing passwords (bcrypt)" },
      { ms: 3000, text: "  .. JetStream meta leader: nats-0" },
    ]);
    expect(split.phases[1].seconds).toBeNaN();
    expect(split.phases[2].seconds).toBe(2);
    expect(split.readySeconds).toBeNaN();
  });
});

describe("bench:local's server log reading", () => {
  const log = (pid: number, lines: Array<[string, string]>): string =>
    lines.map(([time, message]) => `[${pid}] 2026/12/01 ${time} [INF] ${message}`).join("\n");

  it("times the first meta leader and the last stream/consumer leader from the first server's start", () => {
    const elections = serverElections([
      log(1, [
        ["11:23:45.348658", "Starting nats-server"],
        ["11:23:50.025447", "JetStream cluster new metadata leader: nats-2/fluo-cluster"],
        ["11:23:52.295667", "JetStream cluster new stream leader for 'FLUO > JOBS'"],
        ["11:23:53.758562", "JetStream cluster no metadata leader"],
      ]),
      log(2, [
        ["11:23:45.349663", "Starting nats-server"],
        ["11:23:50.024321", "Self is new JetStream cluster metadata leader"],
        ["11:23:52.939060", "JetStream cluster new consumer leader for 'FLUO > JOBS > trace-analysis'"],
      ]),
    ]);
    expect(elections.metaLeaderSeconds).toBeCloseTo(4.675663, 6);
    expect(elections.lastGroupLeaderSeconds).toBeCloseTo(7.590402, 6);
  });

  it("gives NaN when a log has no start or no election", () => {
    expect(serverElections(["no log lines"]).metaLeaderSeconds).toBeNaN();
    expect(serverElections([log(1, [["11:00:00.000000", "Starting nats-server"]])]).lastGroupLeaderSeconds).toBeNaN();
  });
});
