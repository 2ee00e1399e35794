// The delivery guarantee of JOBS under a consumer-leader crash (issue 19): SIGKILL of the server leading the
// consumer while a worker pool acks a batch, the server back two seconds later. No job may be lost, and a job
// whose ack the server confirmed should not come again; the figures are printed (README "Delivery guarantee").

import { describe, expect, it } from "vitest";
import { measureLeaderCrash } from "../bench/leaderCrash";

describe("JOBS across a consumer-leader crash", () => {
  it("loses no job; deliveries after a confirmed ack stay within one batch in flight", async () => {
    const result = await measureLeaderCrash({ jobs: 3000, onProgress: (line) => process.stdout.write(`  ${line}\n`) });
    process.stdout.write(
      `  leader crash: killed ${result.killed} after ${result.ackedAtCrash} confirmed acks; next confirmed ack ${result.failoverSeconds.toFixed(1)} s later; ` +
        `${result.redeliveredAfterAck} deliveries after a confirmed ack (${result.jobsRedeliveredAfterAck} jobs); ${result.lost} lost\n`,
    );
    expect(result.killed).not.toBe("");
    expect(result.lost).toBe(0);
    expect(result.confirmed).toBe(3000);
    // A worker fetches 100 jobs at a time: at most those can be in flight when the leader dies.
    expect(result.redeliveredAfterAck).toBeLessThanOrEqual(100);
  }, 300_000);
});
