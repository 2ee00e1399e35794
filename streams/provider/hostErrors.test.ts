import { describe, expect, it } from "vitest";
import { isExplained, withoutHostTrace } from "./hostErrors";

// The filter wraps console.error when first needed (the first withoutHostTrace below), so the recorder goes in
// before any test runs.
const printed: string[] = [];
console.error = (...args: unknown[]): void => void printed.push(args.map(String).join(" "));

/** What the SDK's dynamic provider host does with an error of check or diff. */
const hostPrints = (e: Error): void => console.error(`${e}: ${e.stack}`);

describe("withoutHostTrace", () => {
  it("skips the host's print of a refusal once; the next print of the same text (another refusal) is shown", () => {
    printed.length = 0;
    const refusal = withoutHostTrace(new Error("refusing to replace stream EVENTS: it holds 3 message(s)"));
    hostPrints(refusal);
    expect(printed).toEqual([]);
    hostPrints(new Error("refusing to replace stream EVENTS: it holds 3 message(s)"));
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^Error: refusing to replace stream EVENTS: it holds 3 message\(s\): Error: refusing/);
  });

  it("keeps the trace of a bug", () => {
    printed.length = 0;
    hostPrints(withoutHostTrace(new TypeError("cannot read properties of undefined")));
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^TypeError: cannot read properties of undefined: TypeError[^\n]*\n\s+at /);
  });

  it("counts nats.js and client errors as explained, other classes not", () => {
    expect(isExplained(Object.assign(new Error("503"), { name: "NatsError" }))).toBe(true);
    expect(isExplained(new RangeError("x"))).toBe(false);
    expect(isExplained("a string")).toBe(false);
  });
});
