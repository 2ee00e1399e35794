// `npm run drift` against a real 3-node cluster provisioned with the dev stack's catalog: clean, then drifted
// out of band (changed field, deleted consumer, undeclared stream), then unreachable and misused.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "nats";
import { main, PASSWORD_ENV } from "./drift";
import type { Io } from "./io";
import { readStackConfig } from "../infra/stackFile";
import { catalogForStack } from "../streams/catalog";
import { applyCatalog } from "../streams/ops/apply";
import { closeConnections } from "../streams/provider/client";
import { startProvisioningCluster, type ProvisioningCluster } from "../streams/provider/provisioningCluster.testkit";
import { ADMIN_TIMEOUT_MS } from "../test/natsProbe.testkit";

let live: ProvisioningCluster;
let url: string;

function capture(env: Record<string, string> = {}): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), env };
}

beforeAll(async () => {
  live = await startProvisioningCluster(3);
  url = live.provisioner.servers.join(",");
  await applyCatalog(live.provisioner, catalogForStack(readStackConfig("dev")), { allowDestroy: [] });
  await closeConnections();
}, 90_000);

afterAll(async () => {
  await closeConnections();
  await live?.stop();
});

describe("npm run drift", () => {
  it("exits 0 and says so when the server matches the catalog", async () => {
    const io = capture({ [PASSWORD_ENV]: live.provisioner.password });
    expect(await main(["--stack", "dev", "--url", url], io)).toBe(0);
    expect(io.stdout.join("\n")).toMatch(/^No drift: .* matches stack dev \(4 streams, \d+ consumers\)/);
    const json = capture();
    expect(await main(["--stack", "dev", "--url", url, "--password", live.provisioner.password, "--json"], json)).toBe(0);
    expect(JSON.parse(json.stdout[0])).toMatchObject({ stack: "dev", drift: false, differences: [] });
  });

  it("exits 2 with a table of changed, missing and extra resources after out-of-band changes", async () => {
    const s = live.provisioner;
    const nc = await connect({ servers: [...s.servers], user: s.user, pass: s.password, inboxPrefix: s.inboxPrefix });
    const jsm = await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const jobs = await jsm.streams.info("JOBS");
    await jsm.streams.update("JOBS", { ...jobs.config, max_age: 3_600_000_000_000, max_bytes: 256 * 2 ** 20 });
    await jsm.consumers.delete("JOBS", "data-export");
    await jsm.streams.add({ name: "STRAY", subjects: ["stray.>"], num_replicas: 1, max_bytes: 1024 * 1024 });
    await nc.close();

    const io = capture({ [PASSWORD_ENV]: s.password });
    expect(await main(["--stack", "dev", "--url", url], io)).toBe(2);
    const text = io.stdout.join("\n");
    // JOBS differs in two fields: three resources, four rows.
    expect(text).toMatch(/^Drift between stack dev and .*: 3 resources differ \(4 rows below\):$/m);
    expect(text).toMatch(/KIND\s+NAME\s+STATUS\s+FIELD\s+DECLARED\s+LIVE/);
    expect(text).toMatch(/stream\s+JOBS\s+changed\s+maxAge\s+1d\s+1h/);
    expect(text).toMatch(/stream\s+JOBS\s+changed\s+maxBytes\s+512MiB\s+256MiB/);
    expect(text).toMatch(/consumer\s+JOBS\/data-export\s+missing/);
    expect(text).toMatch(/stream\s+STRAY\s+extra/);

    const json = capture({ [PASSWORD_ENV]: s.password });
    expect(await main(["--stack", "dev", "--url", url, "--json"], json)).toBe(2);
    const report = JSON.parse(json.stdout[0]) as { drift: boolean; differences: Array<{ id: string; status: string; fields: unknown[] }> };
    expect(report.drift).toBe(true);
    expect(report.differences).toEqual([
      {
        kind: "stream",
        id: "JOBS",
        status: "changed",
        fields: expect.arrayContaining([{ field: "maxAge", declared: "1d", live: "1h" }, { field: "maxBytes", declared: "512MiB", live: "256MiB" }]),
      },
      { kind: "consumer", id: "JOBS/data-export", status: "missing", fields: [] },
      { kind: "stream", id: "STRAY", status: "extra", fields: [] },
    ]);
  });

  it("exits 1 naming the URL when no server listens there", async () => {
    const io = capture({ [PASSWORD_ENV]: "x" });
    expect(await main(["--stack", "dev", "--url", "nats://127.0.0.1:1"], io)).toBe(1);
    expect(io.stderr.join("\n")).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  });

  it("exits 1 on a wrong password, bad flags, a missing password or an unknown stack", async () => {
    const wrong = capture({ [PASSWORD_ENV]: "wrong" });
    expect(await main(["--stack", "dev", "--url", url], wrong)).toBe(1);
    expect(wrong.stderr.join("\n")).toMatch(/refused user "fluo-provisioner"/);
    const bad = capture();
    expect(await main(["--stack", "dev", "--bogus"], bad)).toBe(1);
    expect(bad.stderr.join("\n")).toMatch(/unknown argument "--bogus"/);
    const nopw = capture();
    expect(await main(["--stack", "dev", "--url", url], nopw)).toBe(1);
    expect(nopw.stderr.join("\n")).toMatch(/no credentials for fluo-provisioner: .* is not the local cluster of .*; pass --context <nats CLI context file>, or --url with --password or FLUO_QUEUE_PROVISIONER_PASSWORD/);
    const nostack = capture({ [PASSWORD_ENV]: "x" });
    expect(await main(["--stack", "nosuch", "--url", url], nostack)).toBe(1);
    expect(nostack.stderr.join("\n")).toMatch(/Pulumi\.nosuch\.yaml/);
  });
});
