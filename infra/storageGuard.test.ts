import { describe, expect, it } from "vitest";
import { storageChangeRefusal, storageGuardProvider, type StorageGuardInputs } from "./storageGuard";

const before: StorageGuardInputs = { storageSize: "3Gi", storageClass: "", allowStorageChange: false };

describe("the storage guard", () => {
  it("refuses a storageSize or storageClass change in diff, naming old and new values and the opt-in", async () => {
    const refusal = storageChangeRefusal(before, { ...before, storageSize: "4Gi" });
    expect(refusal).toMatch(/^refusing to change the NATS volumes \(storageSize 3Gi -> 4Gi\): .*replaced, restarting every server at once/);
    expect(refusal).toContain("pulumi config set fluo-queue:allowStorageChange true");
    expect(storageChangeRefusal(before, { ...before, storageClass: "fast" })).toMatch(/storageClass \(the cluster default\) -> fast/);
    await expect(storageGuardProvider().diff!("nats-volumes", before, { ...before, storageSize: "4Gi" })).rejects.toThrow(/storageSize 3Gi -> 4Gi/);
  });

  it("lets the same volumes through, and a change when the run opts in", async () => {
    expect(storageChangeRefusal(before, { ...before })).toBeUndefined();
    expect(storageChangeRefusal(before, { ...before, storageSize: "4Gi", allowStorageChange: true })).toBeUndefined();
    expect(await storageGuardProvider().diff!("nats-volumes", before, { ...before })).toEqual({ changes: false });
    expect(await storageGuardProvider().diff!("nats-volumes", before, { ...before, allowStorageChange: true })).toEqual({ changes: true });
  });
});
