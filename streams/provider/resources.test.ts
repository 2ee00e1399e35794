// The path every Stream's and Consumer's state loads its provider from (PROVIDER_MODULE) must keep exporting
// both providers: state written by earlier runs loads it to update, refresh and delete.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROVIDER_MODULE } from "./resources";

describe("PROVIDER_MODULE", () => {
  it("is a project-relative module that exports streamProvider and consumerProvider with every method", async () => {
    expect(PROVIDER_MODULE).toBe("streams/provider/hostEntry.ts");
    const loaded = (await import(join(__dirname, "..", "..", PROVIDER_MODULE))) as Record<string, () => Record<string, unknown>>;
    for (const factory of ["streamProvider", "consumerProvider"]) {
      const provider = loaded[factory]();
      for (const method of ["configure", "check", "diff", "create", "read", "update", "delete"]) {
        expect(typeof provider[method], `${factory}().${method}`).toBe("function");
      }
    }
  });
});
