import { describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/stackFile";
import { catalogForStack } from "../streams/catalog";
import { alertTargetsFromCatalog, assertValidTargets } from "./targets";
import { renderAlertRules } from "./rules";

describe("alert targets from the stream catalog", () => {
  for (const stack of ["dev", "prod"]) {
    it(`cover every stream and consumer of the ${stack} catalog with its own limits`, () => {
      const config = readStackConfig(stack);
      const catalog = catalogForStack(config);
      const targets = alertTargetsFromCatalog(config, catalog);
      expect(() => assertValidTargets(targets)).not.toThrow();
      expect(targets.streams.map((s) => s.name)).toEqual(catalog.streams.map((s) => s.name));
      expect(targets.consumers.map((c) => `${c.stream}/${c.name}`)).toEqual(catalog.consumers.map((c) => `${c.stream}/${c.name}`));
      expect(targets.deadLetterStream).toBe("DEADLETTER");
      const jobs = targets.streams.find((s) => s.name === "JOBS")!;
      expect(jobs.maxBytes).toBeGreaterThan(0);
      const trace = catalog.consumers.find((c) => c.name === "trace-analysis")!;
      const target = targets.consumers.find((c) => c.name === "trace-analysis")!;
      expect(target.maxDeliver).toBe(trace.maxDeliver);
      expect(target.ackPendingThreshold).toBe(Math.floor(trace.maxAckPending! * 0.8));
      expect(targets.clusterSize).toBe(config.replicas);
    });
  }

  it("every catalog stream gets a near-limit rule and every consumer its own ack-pending threshold", () => {
    const config = readStackConfig("dev");
    const targets = alertTargetsFromCatalog(config, catalogForStack(config));
    const rules = renderAlertRules(config, targets).groups.flatMap((g) => g.rules);
    const nearBytes = rules.find((r) => "alert" in r && r.alert === "NatsStreamNearByteLimit")!;
    for (const s of targets.streams) expect(nearBytes.expr).toContain(`stream_name="${s.name}"`);
    const ackPending = rules.find((r) => "alert" in r && r.alert === "NatsConsumerAckPendingHigh")!;
    for (const c of targets.consumers) {
      expect(ackPending.expr).toContain(`consumer_name="${c.name}",is_consumer_leader="true"}) > ${c.ackPendingThreshold})`);
    }
  });

  it("refuses a catalog without a dead-letter stream", () => {
    const config = readStackConfig("dev");
    const catalog = catalogForStack(config);
    const without = { ...catalog, streams: catalog.streams.filter((s) => s.name !== "DEADLETTER") };
    expect(() => alertTargetsFromCatalog(config, without)).toThrow(/no dead-letter stream/);
  });
});
