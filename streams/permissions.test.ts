import { describe, expect, it } from "vitest";
import { readStackConfig } from "../infra/stackFile";
import { renderFiles, deploymentModel } from "../model";
import { userGrants } from "../infra/userGrants";
import { subjectMatches } from "../infra/permissions";
import { BASE_CATALOG, catalogForStack } from "./catalog";
import { catalogGrants, consumerSubjects, deadLetterSource, publishSubjects } from "./permissions";
import { renderStreamsJson } from "./render";
import type { UserName } from "../infra/users";

const grants = catalogGrants(BASE_CATALOG);
const publishOf = (user: UserName): readonly string[] => grants.get(user)?.publish.allow ?? [];

describe("catalogGrants", () => {
  it("gives workers exactly info, pull and ack on their own consumers, plus their publish subjects", () => {
    expect(publishOf("fluo-workers")).toEqual(
      [
        ...["trace-analysis", "rule-validation", "data-export"].flatMap((name) => consumerSubjects({ stream: "JOBS", name })),
        "events.system.*",
        "signals.created",
        "signals.status.*",
      ].sort(),
    );
  });

  it("never gives an application user consumer creation, stream management or $SYS", () => {
    for (const [user, p] of grants) {
      for (const subject of p.publish.allow) {
        for (const forbidden of ["$JS.API.CONSUMER.CREATE.JOBS.x", "$JS.API.CONSUMER.DURABLE.CREATE.JOBS.x", "$JS.API.STREAM.CREATE.X", "$JS.API.STREAM.DELETE.JOBS", "$JS.API.STREAM.UPDATE.JOBS", "$SYS.REQ.SERVER.PING"]) {
          expect(subjectMatches(subject, forbidden), `${user} may publish ${forbidden} via ${subject}`).toBe(false);
        }
      }
      expect(p.subscribe.allow).toEqual([]);
    }
    expect(grants.has("fluo-provisioner")).toBe(false);
    expect(grants.has("fluo-monitor")).toBe(false);
    expect(grants.has("fluo-operator")).toBe(false);
  });

  it("narrows publishers to their declared publications inside the stream, not the stream's subject space", () => {
    const stream = (name: string) => BASE_CATALOG.streams.find((s) => s.name === name)!;
    expect(publishSubjects(stream("JOBS"), "fluo-bff")).toEqual(["jobs.data_export", "jobs.rule_validation", "jobs.trace_analysis"]);
    expect(publishSubjects(stream("EVENTS"), "fluo-bff")).toEqual(["events.user.*"]);
    expect(publishSubjects(stream("SIGNALS"), "fluo-backend")).toEqual(["signals.status.resolved"]);
    // Not a publisher of the stream: nothing, whatever it declares elsewhere.
    expect(publishSubjects(stream("JOBS"), "fluo-workers")).toEqual([]);
    expect(publishOf("fluo-bff")).not.toContain("events.>");
    expect(publishOf("fluo-bff").some((s) => subjectMatches(s, "events.system.startup"))).toBe(false);
  });

  it("lets the dead-letter inspector fetch the failed job from JOBS by sequence, and nothing else of JOBS", () => {
    expect(deadLetterSource(BASE_CATALOG.streams.find((s) => s.name === "DEADLETTER")!)).toBe("JOBS");
    expect(publishOf("fluo-backend")).toContain("$JS.API.STREAM.MSG.GET.JOBS");
    expect(publishOf("fluo-backend")).toContain("$JS.API.INFO");
    expect(publishOf("fluo-bff")).not.toContain("$JS.API.STREAM.MSG.GET.JOBS");
    expect(publishOf("fluo-backend").some((s) => s.includes(".JOBS.") && !s.includes("MSG.GET"))).toBe(false);
  });

  it("is merged onto the base grants without losing them", () => {
    const bff = userGrants(grants).find((g) => g.spec.name === "fluo-bff")!;
    expect(bff.permissions.publish.allow).toContain("rpc.backend.>");
    expect(bff.permissions.publish.allow).toContain("jobs.trace_analysis");
    expect(bff.permissions.subscribe.allow).toEqual(["_INBOX_FLUO_BFF.>"]);
  });
});

describe("rendered artifacts", () => {
  const files = renderFiles(deploymentModel(readStackConfig("dev")));
  const streamsJson = files.find((f) => f.path === "streams.json")!;

  it("streams.json holds the exact API configs, durations in nanoseconds, sizes in bytes", () => {
    const parsed = JSON.parse(streamsJson.content) as {
      streams: Record<string, { max_age: number; max_bytes: number; duplicate_window: number }>;
      consumers: Record<string, Record<string, { ack_wait: number; backoff: number[]; durable_name: string; filter_subject?: string }>>;
    };
    expect(parsed.streams.JOBS).toMatchObject({ max_age: 86_400_000_000_000, max_bytes: 512 * 2 ** 20, duplicate_window: 120_000_000_000 });
    expect(parsed.consumers.JOBS["trace-analysis"]).toMatchObject({ durable_name: "trace-analysis", ack_wait: 300_000_000_000, filter_subject: "jobs.trace_analysis" });
    expect(parsed.consumers.JOBS["trace-analysis"].backoff).toEqual([300e9, 600e9, 1200e9]);
    expect(Object.keys(parsed.consumers.SIGNALS).sort()).toEqual(["backend-status", "bff-updates"]);
  });

  it("streams.json is deterministic 2-space JSON", () => {
    expect(streamsJson.content).toBe(renderStreamsJson(catalogForStack(readStackConfig("dev"))));
    expect(streamsJson.content).toBe(renderFiles(deploymentModel(readStackConfig("dev"))).find((f) => f.path === "streams.json")!.content);
    expect(streamsJson.content.startsWith('{\n  "$comment": "Generated by fluo-queue (streams/render.ts)')).toBe(true);
    expect(streamsJson.content).toContain('",\n  "streams": {\n    "JOBS": {');
  });

  it("nats.conf carries the catalog's grants", () => {
    const conf = files.find((f) => f.path === "nats.conf")!.content;
    expect(conf).toContain('"$JS.API.CONSUMER.MSG.NEXT.JOBS.trace-analysis"');
    expect(conf).toContain('"$JS.ACK.SIGNALS.bff-updates.>"');
  });
});
