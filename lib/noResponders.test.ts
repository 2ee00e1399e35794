import { describe, expect, it } from "vitest";
import { isNoResponders, resendWhileNoResponders } from "./noResponders";

/** An error as nats.js throws it: a NatsError with a string code. */
const natsError = (code: string): Error => Object.assign(new Error(code), { code });

describe("resendWhileNoResponders", () => {
  it("resends after a 503 and returns what the send that got through returned", async () => {
    let calls = 0;
    const got = await resendWhileNoResponders(async () => {
      calls++;
      if (calls < 3) throw natsError("503");
      return "stored";
    }, 5_000);
    expect(got).toBe("stored");
    expect(calls).toBe(3);
  });

  it("throws any other error at once: a timeout may have been stored, so it is never resent", async () => {
    let calls = 0;
    const send = async (): Promise<never> => {
      calls++;
      throw natsError("TIMEOUT");
    };
    await expect(resendWhileNoResponders(send, 5_000)).rejects.toThrow("TIMEOUT");
    expect(calls).toBe(1);
  });

  it("throws the 503 once the deadline has passed", async () => {
    const started = Date.now();
    await expect(resendWhileNoResponders(async () => Promise.reject(natsError("503")), 200)).rejects.toThrow("503");
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it("isNoResponders tells the 503 from other errors and non-errors", () => {
    expect(isNoResponders(natsError("503"))).toBe(true);
    expect(isNoResponders(natsError("TIMEOUT"))).toBe(false);
    expect(isNoResponders(undefined)).toBe(false);
    expect(isNoResponders("503")).toBe(false);
  });
});
