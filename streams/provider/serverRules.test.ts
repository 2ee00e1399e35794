// The update rules per nats-server line, on the versions where each one changed (the live suites run the two
// pinned servers, 2.15.3 and 2.14.10, which both have the newest rules; the older lines are proven here).

import { describe, expect, it } from "vitest";
import { parseServerVersion, updateRules } from "./serverRules";

describe("nats-server update rules by version", () => {
  it("reads versions as the server reports them, and names a value it cannot read", () => {
    expect(parseServerVersion("v2.14.10")).toEqual({ major: 2, minor: 14, patch: 10 });
    expect(parseServerVersion("2.12.0-RC.1")).toEqual({ major: 2, minor: 12, patch: 0 });
    expect(() => parseServerVersion("latest")).toThrow(/cannot read a nats-server version from "latest"/);
  });

  it("retention: fixed on 2.9, limits <-> interest in place from 2.10, never to or from workqueue", () => {
    expect(updateRules("2.9.25").retentionChangesInPlace("limits", "interest")).toBe(false);
    for (const v of ["2.10.0", "2.14.10", "2.15.3"]) {
      const rules = updateRules(v);
      expect(rules.retentionChangesInPlace("limits", "interest")).toBe(true);
      expect(rules.retentionChangesInPlace("interest", "limits")).toBe(true);
      expect(rules.retentionChangesInPlace("limits", "workqueue")).toBe(false);
      expect(rules.retentionChangesInPlace("workqueue", "interest")).toBe(false);
    }
  });

  it("max_consumers updatable from 2.12.5, mirror promotion from 2.12.0, republish from 2.10.0", () => {
    expect([updateRules("2.12.4").maxConsumersUpdatable, updateRules("2.12.5").maxConsumersUpdatable, updateRules("2.14.10").maxConsumersUpdatable]).toEqual([false, true, true]);
    expect([updateRules("2.11.9").mirrorPromotion, updateRules("2.12.0").mirrorPromotion]).toEqual([false, true]);
    expect([updateRules("2.9.25").republishUpdatable, updateRules("2.10.0").republishUpdatable]).toEqual([false, true]);
  });

  it("consumer create/update action enforced from 2.10", () => {
    expect([updateRules("2.9.25").consumerActionEnforced, updateRules("2.10.0").consumerActionEnforced, updateRules("2.15.3").consumerActionEnforced]).toEqual([false, true, true]);
  });

  it("backoff: max_deliver must exceed the list up to 2.10.22; from 2.10.23 / 2.11 it may equal it or be -1", () => {
    for (const v of ["2.9.25", "2.10.22"]) {
      const rules = updateRules(v);
      expect([rules.backoffAllowed(3, 4), rules.backoffAllowed(3, 3), rules.backoffAllowed(3, -1)]).toEqual([true, false, false]);
    }
    for (const v of ["2.10.23", "2.11.0", "2.14.10", "2.15.3"]) {
      const rules = updateRules(v);
      expect([rules.backoffAllowed(3, 4), rules.backoffAllowed(3, 3), rules.backoffAllowed(3, -1), rules.backoffAllowed(3, 2)]).toEqual([true, true, true, false]);
    }
  });
});
