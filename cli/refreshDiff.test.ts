// The "Refresh found (state => live)" rows of npm run drift:state (cli/stack.ts refreshDiffLine), from engine
// events shaped as the pinned engine sends them (seen on a real API server: a kubectl-scaled StatefulSet).

import { describe, expect, it } from "vitest";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { refreshDiffLine, valueAtPath } from "./stack";

const URN = "urn:pulumi:dev::fluo-queue::fluo-queue:infra:NatsCluster$kubernetes:apps/v1:StatefulSet::statefulset";
const state = { metadata: { labels: { "fluo/environment": "dev", "app.kubernetes.io/name": "nats" } }, spec: { replicas: 3, template: { x: 1 } }, status: { readyReplicas: 3 } };
const live = { metadata: { labels: { "fluo/environment": "drifted", "app.kubernetes.io/name": "nats" } }, spec: { replicas: 2, template: { x: 1 } }, status: { readyReplicas: 2 } };

function outputsEvent(metadata: Record<string, unknown>): EngineEvent {
  return { sequence: 1, timestamp: 0, resOutputsEvent: { metadata: { urn: URN, type: "kubernetes:apps/v1:StatefulSet", provider: "", ...metadata } } } as unknown as EngineEvent;
}

describe("refreshDiffLine", () => {
  it("names each field of the engine's detailed diff with its state and live value", () => {
    const line = refreshDiffLine(
      outputsEvent({
        op: "update",
        old: { outputs: state },
        new: { outputs: live },
        detailedDiff: { "metadata.labels.fluo/environment": { diffKind: "update" }, "spec.replicas": { diffKind: "update" } },
      }),
    );
    expect(line).toBe('  ~ kubernetes:apps/v1:StatefulSet statefulset: metadata.labels.fluo/environment: "dev" => "drifted", spec.replicas: 3 => 2\n');
  });

  it("prints nothing for a step without the live outputs (no '=> undefined' rows) or without a change", () => {
    expect(refreshDiffLine(outputsEvent({ op: "refresh", old: { outputs: state }, new: {} }))).toBeUndefined();
    expect(refreshDiffLine(outputsEvent({ op: "refresh", old: { outputs: state }, new: { outputs: {} } }))).toBeUndefined();
    expect(refreshDiffLine(outputsEvent({ op: "same", old: { outputs: state }, new: { outputs: state }, detailedDiff: {} }))).toBeUndefined();
  });

  it("compares top-level outputs where the provider gives no detailed diff (the streams)", () => {
    const line = refreshDiffLine(outputsEvent({ op: "update", old: { outputs: { maxAge: "7d", __provider: "a" } }, new: { outputs: { maxAge: "1d", __provider: "b" } } }));
    expect(line).toBe('  ~ kubernetes:apps/v1:StatefulSet statefulset: maxAge: "7d" => "1d"\n');
  });
});

describe("valueAtPath", () => {
  it("reads dotted, quoted and indexed segments", () => {
    expect(valueAtPath(state, 'metadata.labels["app.kubernetes.io/name"]')).toBe("nats");
    expect(valueAtPath({ a: [{ b: 1 }] }, "a[0].b")).toBe(1);
    expect(valueAtPath(state, "spec.nothing.here")).toBeUndefined();
  });
});
