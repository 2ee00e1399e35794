// Which JetStream answers the provider's retry loop waits out: a cluster condition that passes (no leader yet, a
// peer the meta leader has not heard from lately) is retried; a refusal of the request itself is not.

import { describe, expect, it } from "vitest";
import { isTransient } from "./client";

/** An error shaped as nats.js reports a JetStream API error. */
const apiError = (err_code: number, description: string): Error => Object.assign(new Error(description), { api_error: { code: 503, err_code, description } });

describe("isTransient", () => {
  it("retries no suitable peers when the only reason is a peer offline (CI: a create on a loaded 3-node cluster)", () => {
    expect(isTransient(apiError(10005, "no suitable peers for placement, peer offline"))).toBe(true);
  });

  it("does not retry no suitable peers for any other reason, alone or beside an offline peer", () => {
    expect(isTransient(apiError(10005, "no suitable peers for placement, insufficient resources"))).toBe(false);
    expect(isTransient(apiError(10005, "no suitable peers for placement, peer offline, insufficient resources"))).toBe(false);
    expect(isTransient(apiError(10005, "no suitable peers for placement"))).toBe(false);
  });

  it("retries no leader yet and no responders, and not a stream that is not found", () => {
    expect(isTransient(apiError(10008, "JetStream system temporarily unavailable"))).toBe(true);
    expect(isTransient(Object.assign(new Error("503"), { code: "503" }))).toBe(true);
    expect(isTransient(apiError(10059, "stream not found"))).toBe(false);
  });
});
